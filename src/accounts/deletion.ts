// "Delete my account" (GDPR article 17). The person's row goes, and with it their name, address
// and password hash; their API keys are revoked (and keep no name), every grant, session, code
// and token ends, and their pending links and mail go, and so do their second factors and passkeys. The audit log stays, as the operator's
// record of what happened, under a pseudonym: events name a person by their account id, which is
// random and, once the row is gone, points at nobody; events that name an address itself
// (a failed login records what was typed) get a keyed hash of it instead, which the operator
// can match again only by knowing the address and the pepper.
//
// "An address" is every address the account had: the present one, and the earlier ones its
// email changes replaced (emailChange.ts records each in its `user.email_changed` event; an
// earlier address someone else holds now is pseudonymised only up to the change). No mail to
// any of them stays in the outbox, sent or not, nor the link to an address it was changing to.
// Blocked logins are counted in memory before they are written (src/audit/aggregate.ts): they
// are written first, so none naming the address arrives after the rewrite.
import type { ApiKeyService } from '../apikeys/index.ts';
import { actorFields, type Actor, type AuditAggregator, type AuditLog } from '../audit/index.ts';
import { keyedHash } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { deleteFactorsOf } from '../factors/index.ts';
import { deleteIdentitiesOf } from '../federation/index.ts';
import type { GrantService } from '../grants/index.ts';
import { earlierAddresses } from './emailChange.ts';
import type { SessionService } from './sessions.ts';

/** What an event that named the address names instead. */
export const pseudonymOf = (pepper: string, email: string) => `erased:${keyedHash(pepper, `erased-account:${email}`).slice(0, 32)}`;

export interface DeletionOptions {
  prisma: Prisma;
  pepper: string;
  audit: AuditLog;
  /** The counted events not yet written (blocked logins name the address typed). */
  auditAggregates: AuditAggregator;
  grants: GrantService;
  apiKeys: ApiKeyService;
  sessions: SessionService;
  /** Told once the person is gone: cached key checks must forget their keys. */
  onAccessChanged?: (id: string) => void;
}

export function createDeletion({ prisma, pepper, audit, auditAggregates, grants, apiKeys, sessions, onAccessChanged }: DeletionOptions) {
  return {
    /** Deletes the account of `userId` (the caller confirmed it with the password). False when it was already gone. */
    async deleteAccount(userId: string, actor: Actor): Promise<boolean> {
      const user = await prisma.user.findUnique({ where: { id: userId }, select: { id: true, email: true } });
      if (!user) return false;
      // Keys and grants through their services, so each revocation is the audit event it always is.
      for (const key of await apiKeys.list({ ownerUserId: userId })) if (!key.revoked_at) await apiKeys.revoke(key.id, actor);
      const grantsRevoked = await grants.revokeWhere({ account_id: userId }, actor);
      const earlier = await earlierAddresses(prisma, userId);
      // The addresses it was being changed to: their links' mails go with the links.
      const pending = (await prisma.accountToken.findMany({ where: { userId, purpose: 'change_email' }, select: { email: true } })).map(
        (row) => row.email,
      );
      await auditAggregates.flush();
      await prisma.$transaction(async (tx) => {
        // A key made between the list above and now is revoked here too; no key keeps its name.
        await tx.apiKey.updateMany({ where: { ownerUserId: userId, revokedAt: null }, data: { revokedAt: new Date() } });
        await tx.apiKey.updateMany({ where: { ownerUserId: userId }, data: { name: 'deleted' } });
        await tx.accountToken.deleteMany({ where: { OR: [{ userId }, { email: user.email }] } });
        // Their authenticator app, recovery codes, passkeys and open WebAuthn challenges.
        await deleteFactorsOf(tx, userId);
        // Their links to upstream identity providers (and any upstream tokens kept with them).
        await deleteIdentitiesOf(tx, userId);
        await tx.outboxMessage.deleteMany({
          where: {
            OR: [
              { to: user.email },
              ...(pending.length ? [{ to: { in: pending }, purpose: 'email-change' }] : []),
              ...earlier.map(({ email, until }) => ({ to: email, createdAt: { lte: until } })),
            ],
          },
        });
        await tx.auditEvent.updateMany({ where: { subject: user.email }, data: { subject: pseudonymOf(pepper, user.email) } });
        for (const { email, until } of earlier) {
          const heldNow = await tx.user.findUnique({ where: { email }, select: { id: true } });
          await tx.auditEvent.updateMany({
            where: { subject: email, ...(heldNow && heldNow.id !== userId ? { at: { lte: until } } : {}) },
            data: { subject: pseudonymOf(pepper, email) },
          });
        }
        // The email changes' events keep what happened, not the addresses.
        for (const event of await tx.auditEvent.findMany({
          where: { type: 'user.email_changed', subject: userId },
          select: { id: true, details: true },
        })) {
          const details = (event.details ?? {}) as Record<string, unknown>;
          if (typeof details.previous_email !== 'string') continue;
          await tx.auditEvent.update({
            where: { id: event.id },
            data: { details: { ...details, previous_email: pseudonymOf(pepper, details.previous_email) } },
          });
        }
        // The roles and memberships that named the person go with them.
        await tx.userRole.deleteMany({ where: { userId } });
        await tx.organizationMember.deleteMany({ where: { userId } });
        await tx.user.delete({ where: { id: userId } });
      });
      const ended = await sessions.endAllBut(userId, undefined);
      onAccessChanged?.(userId);
      await audit.record({
        type: 'user.deleted',
        ...actorFields(actor),
        subject: userId,
        outcome: 'success',
        details: { grants_revoked: grantsRevoked, sessions_and_tokens_ended: ended },
      });
      return true;
    },
  };
}

export type Deletion = ReturnType<typeof createDeletion>;
