// "Export my data" (GDPR article 15 and 20): everything Portcullis keeps about a person, as one
// JSON document they download from the account page. The profile, their live sessions (when
// and until when), the grants they gave apps, their API keys' metadata (never a key or its
// hash), which second factors they have (when set up and last used, the passkeys' names; never a
// secret, code or key), the accounts at other identity providers linked to theirs (which
// connection, the upstream's identifier and address, when linked and last used; never the
// upstream's tokens) and the audit events about them: those that name them as actor or subject, by id or,
// for failed logins typed with their address (or an earlier one, while it was theirs), by address.
import type { ApiKeyService } from '../apikeys/index.ts';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import type { Prisma } from '../db/index.ts';
import { factorSummaryOf, type FactorSummary } from '../factors/index.ts';
import type { GrantService } from '../grants/index.ts';
import { earlierAddresses } from './emailChange.ts';
import type { SessionService } from './sessions.ts';

/** The newest events exported: a bound on the document, far above what one person causes. */
export const MAX_EXPORTED_EVENTS = 10_000;

export interface DataExportOptions {
  prisma: Prisma;
  audit: AuditLog;
  grants: GrantService;
  apiKeys: ApiKeyService;
  sessions: SessionService;
}

/** A person's factors in the export's names: dates and names only. */
function exportedFactors(summary: FactorSummary) {
  return {
    authenticator_app: summary.totp
      ? { created_at: summary.totp.createdAt.toISOString(), last_used_at: summary.totp.lastUsedAt?.toISOString() ?? null }
      : null,
    passkeys: summary.passkeys.map((passkey) => ({
      id: passkey.id,
      name: passkey.name,
      synced: passkey.synced,
      created_at: passkey.createdAt.toISOString(),
      last_used_at: passkey.lastUsedAt?.toISOString() ?? null,
    })),
    recovery_codes_left: summary.recoveryCodesLeft,
  };
}

export function createDataExport({ prisma, audit, grants, apiKeys, sessions }: DataExportOptions) {
  /** The person's linked identities, named field by field: the sealed upstream tokens stay out. */
  async function linkedIdentities(userId: string) {
    const rows = await prisma.federatedIdentity.findMany({
      where: { userId },
      select: {
        id: true,
        subject: true,
        email: true,
        createdAt: true,
        lastUsedAt: true,
        connection: { select: { name: true, displayName: true } },
      },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((row) => ({
      id: row.id,
      connection: row.connection.name,
      display_name: row.connection.displayName,
      subject: row.subject,
      email: row.email,
      created_at: row.createdAt.toISOString(),
      last_used_at: row.lastUsedAt?.toISOString() ?? null,
    }));
  }

  return {
    /** The document for `userId` (undefined when there is no such person); the export is an audit event. */
    async exportFor(userId: string, currentSessionId: string, actor: Actor): Promise<Record<string, unknown> | undefined> {
      const user = await prisma.user.findUnique({ where: { id: userId } });
      if (!user) return undefined;
      const events = await prisma.auditEvent.findMany({
        where: {
          OR: [
            { actorId: userId },
            { subject: userId },
            { subject: user.email },
            // Failed logins typed with an address it had before, while it was the account's.
            ...(await earlierAddresses(prisma, userId)).map(({ email, until }) => ({ subject: email, at: { lte: until } })),
          ],
        },
        orderBy: [{ at: 'desc' }, { id: 'desc' }],
        take: MAX_EXPORTED_EVENTS,
      });
      const document = {
        format: 'portcullis-account-export/1',
        exported_at: new Date().toISOString(),
        profile: {
          id: user.id,
          email: user.email,
          email_verified: user.emailVerified,
          email_verified_at: user.emailVerifiedAt?.toISOString() ?? null,
          name: user.name,
          locale: user.locale,
          disabled: user.disabled,
          created_at: user.createdAt.toISOString(),
          updated_at: user.updatedAt.toISOString(),
        },
        sessions: (await sessions.list(userId, currentSessionId)).map(({ created_at, expires_at, current }) => ({
          created_at,
          expires_at,
          current,
        })),
        grants: await grants.listForAccount(userId),
        api_keys: await apiKeys.list({ ownerUserId: userId }),
        second_factors: exportedFactors(await factorSummaryOf(prisma, userId)),
        linked_identities: await linkedIdentities(userId),
        audit_events: events.map((event) => ({
          id: event.id,
          at: event.at.toISOString(),
          type: event.type,
          actor_type: event.actorType,
          actor_id: event.actorId,
          subject: event.subject,
          ip: event.ip,
          user_agent: event.userAgent,
          outcome: event.outcome,
          details: event.details ?? null,
        })),
      };
      await audit.record({ type: 'user.data_exported', ...actorFields(actor), subject: userId, outcome: 'success' });
      return document;
    },
  };
}

export type DataExport = ReturnType<typeof createDataExport>;
