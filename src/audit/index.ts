export { createAuditAggregator, type AuditAggregator } from './aggregate.ts';
export { createAuditLog, type ActorType, type AuditEventInput, type AuditLog } from './audit.ts';
