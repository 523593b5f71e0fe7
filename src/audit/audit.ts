// The audit log: security-relevant events, stored in the database. An event names actors and
// subjects by id and never carries a secret; callers pass only what is safe to keep.
import crypto from 'node:crypto';
import type { Prisma } from '../db/index.ts';
import { InputError } from '../errors/index.ts';
import { parseInput } from '../oauth/index.ts';
import { auditQuerySchema, type AuditQuery } from './schema.ts';

export type ActorType = 'user' | 'client' | 'admin' | 'system' | 'initial_access_token';

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
  /**
   * Events newest first, filtered, a page at a time (`limit`, 50 unless told, at most 500);
   * `cursor` is the `next_cursor` of the previous page. `since` and `until` are ISO 8601.
   */
  query(input: AuditQuery): Promise<{ events: (AuditEventInput & { id: string; at: string })[]; next_cursor: string | null }>;
  /** Deletes events older than `before` (retention). Returns how many went. */
  purgeBefore(before: Date): Promise<number>;
}

/** Prisma's JSON input type cannot name `unknown` values; details are plain JSON by contract. */
const json = (details: Record<string, unknown>): object => details;
/** Details are only ever written as an object (record). */
const isDetails = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

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
          ...(event.details ? { details: json(event.details) } : {}),
        },
      });
    },
    async query(input) {
      // The schema's text() refuses control characters (NUL among them), so every value can be queried.
      const { type, actor, subject, limit, cursor, ...range } = parseInput(auditQuerySchema, input);
      const since = range.since === undefined ? undefined : new Date(range.since);
      const until = range.until === undefined ? undefined : new Date(range.until);
      const after = cursor ? await prisma.auditEvent.findUnique({ where: { id: cursor }, select: { at: true, id: true } }) : null;
      // A cursor that names no event (mistyped, or purged since) must not restart from page one.
      if (cursor && !after) throw new InputError('cursor', 'names no event; start again without a cursor');
      const rows = await prisma.auditEvent.findMany({
        where: {
          ...(type ? { type } : {}),
          ...(actor ? { actorId: actor } : {}),
          ...(subject ? { subject } : {}),
          at: { ...(since ? { gte: since } : {}), ...(until ? { lte: until } : {}) },
          ...(after ? { OR: [{ at: { lt: after.at } }, { at: after.at, id: { lt: after.id } }] } : {}),
        },
        orderBy: [{ at: 'desc' }, { id: 'desc' }],
        take: limit + 1,
      });
      const page = rows.slice(0, limit);
      return {
        events: page.map((row) => ({
          id: row.id,
          at: row.at.toISOString(),
          type: row.type,
          actorType: row.actorType as ActorType,
          ...(row.actorId ? { actorId: row.actorId } : {}),
          ...(row.subject ? { subject: row.subject } : {}),
          ...(row.ip ? { ip: row.ip } : {}),
          ...(row.userAgent ? { userAgent: row.userAgent } : {}),
          outcome: row.outcome as 'success' | 'failure',
          ...(isDetails(row.details) ? { details: row.details } : {}),
        })),
        next_cursor: rows.length > limit ? page.at(-1)!.id : null,
      };
    },
    async purgeBefore(before) {
      const { count } = await prisma.auditEvent.deleteMany({ where: { at: { lt: before } } });
      return count;
    },
  };
}
