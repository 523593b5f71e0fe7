// Who made a change. Every service method that changes state takes one (required), and the one
// audit event of that change records it.
import type { AuditEventInput } from './audit.ts';

export type Actor =
  /** An administrator: through the admin API (`id` is the admin client's id) or the CLI (no id). */
  | { type: 'admin'; id?: string; ip?: string }
  /** A person, acting on their own account through the pages. */
  | { type: 'user'; id: string; ip?: string }
  /** A client changing or deleting its own registration (RFC 7592), with its registration access token. */
  | { type: 'client'; id: string; ip?: string }
  /** A client registering itself (RFC 7591): the initial access token an administrator made, by its id. */
  | { type: 'initial_access_token'; id: string; ip?: string }
  /** Portcullis itself: a schedule, a cascade (an owner's deletion), a first start. */
  | { type: 'system' };

/** The operator at the command line. */
export const CLI_ACTOR: Actor = { type: 'admin' };
export const SYSTEM_ACTOR: Actor = { type: 'system' };

/** The audit fields that say who acted, and from where. */
export function actorFields(actor: Actor): Pick<AuditEventInput, 'actorType' | 'actorId' | 'ip'> {
  if (actor.type === 'system') return { actorType: 'system' };
  return { actorType: actor.type, ...(actor.id ? { actorId: actor.id } : {}), ...(actor.ip ? { ip: actor.ip } : {}) };
}
