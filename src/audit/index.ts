export { actorFields, CLI_ACTOR, SYSTEM_ACTOR, type Actor } from './actor.ts';
export { createAuditAggregator, type AuditAggregator } from './aggregate.ts';
export { createAuditLog, type ActorType, type AuditEventInput, type AuditLog } from './audit.ts';
export { auditQuerySchema, type AuditQuery } from './schema.ts';
