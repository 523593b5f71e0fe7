// The audit log: security-relevant events, stored in the database. An event names actors and
// subjects by id and never carries a secret; callers pass only what is safe to keep.
import crypto from 'node:crypto';
import type { Prisma } from '../db/index.ts';

export type ActorType = 'user' | 'client' | 'admin' | 'system';

export interface AuditEventInput {
  type: string;
  actorType: ActorType;
  actorId?: string;
  subject?: string;
  ip?: string;
  userAgent?: string;
  outcome: 'success' | 'failure';
  details?: Record<string, unknown>;
}

export interface AuditLog {
  record(event: AuditEventInput): Promise<void>;
  list(filter?: { type?: string; subject?: string; limit?: number }): Promise<AuditEventInput[]>;
  /** Deletes events older than `before` (retention). Returns how many went. */
  purgeBefore(before: Date): Promise<number>;
}

export function createAuditLog(prisma: Prisma): AuditLog {
  return {
    async record(event) {
      await prisma.auditEvent.create({
        data: {
          id: crypto.randomUUID(),
          type: event.type,
          actorType: event.actorType,
          actorId: event.actorId ?? null,
          subject: event.subject ?? null,
          ip: event.ip ?? null,
          userAgent: event.userAgent ?? null,
          outcome: event.outcome,
          ...(event.details ? { details: event.details as object } : {}),
        },
      });
    },
    async purgeBefore(before) {
      const { count } = await prisma.auditEvent.deleteMany({ where: { at: { lt: before } } });
      return count;
    },
    async list(filter = {}) {
      const rows = await prisma.auditEvent.findMany({
        where: { ...(filter.type ? { type: filter.type } : {}), ...(filter.subject ? { subject: filter.subject } : {}) },
        orderBy: { at: 'desc' },
        take: filter.limit ?? 100,
      });
      return rows.map((row) => ({
        type: row.type,
        actorType: row.actorType as ActorType,
        ...(row.actorId ? { actorId: row.actorId } : {}),
        ...(row.subject ? { subject: row.subject } : {}),
        outcome: row.outcome as 'success' | 'failure',
        ...(row.details ? { details: row.details as Record<string, unknown> } : {}),
      }));
    },
  };
}
