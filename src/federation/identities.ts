// Which upstream account is which local one. A sign-in through a connection finds the local
// account linked to the upstream's subject; the first one makes an account when the connection
// allows it. It links to an existing account only when the person proves they own it (they sign in
// to it once, in the same sign-in), never because an email matches: an upstream that lets anyone
// claim any address would otherwise hand out the accounts of those addresses.
import { giveDefaultRoles } from '../access/index.ts';
import crypto from 'node:crypto';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import { seal, unseal } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, NotFoundError } from '../errors/index.ts';
import { checkedEmail, MAX_NAME_LENGTH } from '../users/index.ts';
import type { Connection } from './connections.ts';
import { UpstreamError, type UpstreamResult } from './upstream.ts';

/** Who the upstream says signed in, in local fields. */
export interface UpstreamProfile {
  subject: string;
  /** Normalized, or undefined when the upstream gave none (or not an address). */
  email?: string;
  name?: string;
  /** The connection trusts the upstream's email_verified and it said true. */
  emailVerified: boolean;
}

/** A sign-in through a connection that waits for the person to prove they own an existing account. */
export interface PendingLink {
  connectionId: string;
  connectionName: string;
  displayName: string;
  profile: UpstreamProfile;
  /** The upstream's tokens, when the connection keeps them (the interaction holding this is sealed at rest). */
  tokens?: UpstreamResult['tokens'];
}

export type Resolution =
  /** A linked account (or one just made): sign them in. */
  | { kind: 'account'; userId: string; created: boolean }
  /** An account with this address exists and is not linked: its owner must sign in to it to link. */
  | { kind: 'link'; pending: PendingLink }
  /**
   * The account's address is only the upstream's word (it does not vouch for it, and nobody proved
   * it): the person proves it in this sign-in, with the code mailed to it, before the link counts.
   */
  | { kind: 'prove'; userId: string; identityId: string; email: string }
  /** No way in: no account and none may be made, no address to make one with, or the account is disabled. */
  | { kind: 'refused'; reason: 'no_account' | 'no_email' | 'disabled' };

/** A linked identity as the account page and the admin API show it. */
export interface IdentitySummary {
  id: string;
  connection: string;
  displayName: string;
  email: string | null;
  /** The upstream's tokens are kept (sealed) for this identity. */
  hasTokens: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** A linked identity in the wire's names (the admin API's and the CLI's --json): never a token. */
export function identitySummaryView(summary: IdentitySummary) {
  return {
    id: summary.id,
    connection: summary.connection,
    display_name: summary.displayName,
    email: summary.email,
    has_tokens: summary.hasTokens,
    created_at: summary.createdAt.toISOString(),
    last_used_at: summary.lastUsedAt?.toISOString() ?? null,
  };
}

type Writer = Pick<Prisma, 'federatedIdentity'>;

/** Deletes every link of a person's with `writer` (an account deletion's transaction). */
export async function deleteIdentitiesOf(writer: Writer, userId: string): Promise<void> {
  await writer.federatedIdentity.deleteMany({ where: { userId } });
}

const claimText = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : undefined;

/** The upstream's claims through the connection's mapping. A missing subject is the upstream's fault. */
export function profileOf(connection: Connection, claims: Record<string, unknown>): UpstreamProfile {
  const mapping = connection.claimMapping;
  const subject = claimText(claims[mapping.subject]);
  if (!subject || subject.length > 255)
    throw new UpstreamError('bad_response', `the upstream's answer has no usable ${mapping.subject} claim`);
  let email: string | undefined;
  const rawEmail = mapping.email ? claimText(claims[mapping.email]) : undefined;
  if (rawEmail) {
    try {
      email = checkedEmail(rawEmail);
    } catch {
      email = undefined;
    }
  }
  const rawName = mapping.name ? claimText(claims[mapping.name])?.trim() : undefined;
  const verifiedClaim = claims[mapping.email_verified ?? 'email_verified'];
  return {
    subject,
    ...(email ? { email } : {}),
    ...(rawName ? { name: rawName.slice(0, MAX_NAME_LENGTH) } : {}),
    emailVerified: Boolean(email) && connection.trustEmailVerified && (verifiedClaim === true || verifiedClaim === 'true'),
  };
}

/** A link that waits for the person to sign in to the account (the upstream's tokens kept only when the connection asks). */
function pendingLink(connection: Connection, profile: UpstreamProfile, tokens: UpstreamResult['tokens']): PendingLink {
  return {
    connectionId: connection.id,
    connectionName: connection.name,
    displayName: connection.displayName,
    profile,
    ...(connection.storeTokens ? { tokens } : {}),
  };
}

export interface IdentityOptions {
  prisma: Prisma;
  audit: AuditLog;
  sealingKey: string;
  pepper: string;
}

export function createIdentities({ prisma, audit, sealingKey, pepper }: IdentityOptions) {
  const sealTokens = (identityId: string, tokens: UpstreamResult['tokens'] | undefined) =>
    tokens ? seal(sealingKey, pepper, `upstream-tokens:${identityId}`, JSON.stringify(tokens)) : null;

  async function touch(identityId: string, connection: Connection, profile: UpstreamProfile, tokens?: UpstreamResult['tokens']) {
    await prisma.federatedIdentity.update({
      where: { id: identityId },
      data: {
        lastUsedAt: new Date(),
        email: profile.email ?? null,
        ...(connection.storeTokens ? { tokens: sealTokens(identityId, tokens) } : {}),
      },
    });
  }

  async function resolveOnce(connection: Connection, profile: UpstreamProfile, tokens: UpstreamResult['tokens']): Promise<Resolution> {
    const linked = await prisma.federatedIdentity.findUnique({
      where: { connectionId_subject: { connectionId: connection.id, subject: profile.subject } },
    });
    if (linked) {
      const user = await prisma.user.findUnique({ where: { id: linked.userId }, select: { disabled: true } });
      if (!user) {
        // The account is gone (deleted without its links): the stale link goes too.
        await prisma.federatedIdentity.deleteMany({ where: { id: linked.id } });
        return resolveOnce(connection, profile, tokens);
      }
      if (user.disabled) return { kind: 'refused', reason: 'disabled' };
      await touch(linked.id, connection, profile, tokens);
      if (!linked.addressProven) {
        // Still the upstream's word only. While the account waits for its address, the code mailed
        // to it proves it; once someone else proved the address (a link, a reset), only a sign-in
        // to the account does (the link step), as for any other account with this address.
        const account = await prisma.user.findUnique({ where: { id: linked.userId }, select: { email: true, emailVerified: true } });
        if (account && !account.emailVerified) return { kind: 'prove', userId: linked.userId, identityId: linked.id, email: account.email };
        return { kind: 'link', pending: pendingLink(connection, { ...profile, ...(account ? { email: account.email } : {}) }, tokens) };
      }
      return { kind: 'account', userId: linked.userId, created: false };
    }
    if (profile.email) {
      const existing = await prisma.user.findUnique({ where: { email: profile.email }, select: { id: true } });
      if (existing) return { kind: 'link', pending: pendingLink(connection, profile, tokens) };
    }
    if (!connection.createAccounts) return { kind: 'refused', reason: 'no_account' };
    if (!profile.email) return { kind: 'refused', reason: 'no_email' };
    const userId = crypto.randomUUID();
    const identityId = crypto.randomUUID();
    await prisma.$transaction(async (tx) => {
      await tx.user.create({
        data: {
          id: userId,
          email: profile.email!,
          name: profile.name ?? null,
          passwordHash: null,
          emailVerified: profile.emailVerified,
          emailVerifiedAt: profile.emailVerified ? new Date() : null,
        },
      });
      await giveDefaultRoles(tx as Prisma, userId);
      await tx.federatedIdentity.create({
        data: {
          id: identityId,
          connectionId: connection.id,
          subject: profile.subject,
          userId,
          email: profile.email ?? null,
          lastUsedAt: new Date(),
          tokens: connection.storeTokens ? sealTokens(identityId, tokens) : null,
          // The account's address is only the upstream's word: a later proof by mail ends this link.
          addressProven: profile.emailVerified,
        },
      });
    });
    await audit.record({
      type: 'user.created',
      actorType: 'user',
      actorId: userId,
      subject: userId,
      outcome: 'success',
      details: { connection: connection.name, email_verified: profile.emailVerified },
    });
    if (!profile.emailVerified) return { kind: 'prove', userId, identityId, email: profile.email };
    return { kind: 'account', userId, created: true };
  }

  return {
    /** Finds (or makes) the local account of an upstream sign-in. */
    async resolve(connection: Connection, profile: UpstreamProfile, tokens: UpstreamResult['tokens']): Promise<Resolution> {
      try {
        return await resolveOnce(connection, profile, tokens);
      } catch (error) {
        // Two first sign-ins at once: the loser's insert meets the winner's row; the second look finds it.
        if ((error as { code?: string }).code === 'P2002') return resolveOnce(connection, profile, tokens);
        throw error;
      }
    },

    /** Links a pending upstream identity to the account its owner just signed in to. */
    async link(userId: string, pending: PendingLink, actor: Actor): Promise<void> {
      const id = crypto.randomUUID();
      const connection = await prisma.connection.findUnique({
        where: { id: pending.connectionId },
        select: { id: true, storeTokens: true },
      });
      if (!connection) throw new NotFoundError(`connection ${pending.connectionName}`);
      const taken = await prisma.federatedIdentity.findUnique({
        where: { connectionId_subject: { connectionId: connection.id, subject: pending.profile.subject } },
      });
      if (taken && taken.userId !== userId) throw new ConflictError('this upstream account is linked to another account');
      if (taken) {
        // The person signed in to the account: the link its unproven address made is theirs now.
        if (!taken.addressProven) await prisma.federatedIdentity.update({ where: { id: taken.id }, data: { addressProven: true } });
        return;
      }
      await prisma.federatedIdentity.create({
        data: {
          id,
          connectionId: connection.id,
          subject: pending.profile.subject,
          userId,
          email: pending.profile.email ?? null,
          lastUsedAt: new Date(),
          tokens: connection.storeTokens ? sealTokens(id, pending.tokens) : null,
        },
      });
      await audit.record({
        type: 'identity.linked',
        ...actorFields(actor),
        subject: userId,
        outcome: 'success',
        details: { connection: pending.connectionName },
      });
    },

    async list(userId: string): Promise<IdentitySummary[]> {
      const rows = await prisma.federatedIdentity.findMany({
        where: { userId },
        include: { connection: { select: { name: true, displayName: true } } },
        orderBy: { createdAt: 'asc' },
      });
      return rows.map((row) => ({
        id: row.id,
        connection: row.connection.name,
        displayName: row.connection.displayName,
        email: row.email,
        hasTokens: row.tokens !== null,
        createdAt: row.createdAt,
        lastUsedAt: row.lastUsedAt,
      }));
    },

    /** The person typed the code mailed to the account's address in the sign-in this link came with: it is theirs. */
    async markProven(userId: string, identityId: string): Promise<boolean> {
      const { count } = await prisma.federatedIdentity.updateMany({ where: { id: identityId, userId }, data: { addressProven: true } });
      return count === 1;
    },

    /**
     * The person proved their address by a mailed reset: links that made the account on an address
     * nobody had proved end (whoever held that upstream account may not be the address's owner:
     * account pre-hijacking). Each is an audit event.
     */
    async endUnprovenLinks(userId: string, actor: Actor): Promise<number> {
      const unproven = await prisma.federatedIdentity.findMany({
        where: { userId, addressProven: false },
        include: { connection: { select: { name: true } } },
      });
      if (unproven.length === 0) return 0;
      await prisma.federatedIdentity.deleteMany({ where: { id: { in: unproven.map((identity) => identity.id) } } });
      for (const identity of unproven)
        await audit.record({
          type: 'identity.unlinked',
          ...actorFields(actor),
          subject: userId,
          outcome: 'success',
          details: { connection: identity.connection.name, reason: 'address_proven_by_reset' },
        });
      return unproven.length;
    },

    /**
     * The upstream's tokens kept for one identity (a connection with store_tokens), for an
     * administrator's integration to call the upstream's APIs on the person's behalf; each read
     * is an audit event. Undefined when none are kept.
     */
    async tokens(userId: string, identityId: string, actor: Actor): Promise<UpstreamResult['tokens'] | undefined> {
      const identity = await prisma.federatedIdentity.findFirst({
        where: { id: identityId, userId },
        include: { connection: { select: { name: true } } },
      });
      if (!identity) throw new NotFoundError(`linked identity ${identityId}`);
      const opened = identity.tokens ? unseal(sealingKey, pepper, `upstream-tokens:${identity.id}`, identity.tokens) : undefined;
      await audit.record({
        type: 'identity.tokens_read',
        ...actorFields(actor),
        subject: userId,
        outcome: opened ? 'success' : 'failure',
        details: { connection: identity.connection.name },
      });
      return opened ? (JSON.parse(opened) as UpstreamResult['tokens']) : undefined;
    },

    /**
     * Unlinks one identity, unless it is the person's last way in: no password, no passkey
     * (passwordless) and no other linked identity. Returns false when refused for that reason.
     */
    async unlink(userId: string, identityId: string, actor: Actor): Promise<'unlinked' | 'last_way_in'> {
      const identity = await prisma.federatedIdentity.findFirst({
        where: { id: identityId, userId },
        include: { connection: { select: { name: true } } },
      });
      if (!identity) throw new NotFoundError(`linked identity ${identityId}`);
      const [user, passkeys, others] = await Promise.all([
        prisma.user.findUnique({ where: { id: userId }, select: { passwordHash: true } }),
        prisma.passkey.count({ where: { userId } }),
        prisma.federatedIdentity.count({ where: { userId, id: { not: identityId } } }),
      ]);
      if (!user?.passwordHash && passkeys === 0 && others === 0) return 'last_way_in';
      await prisma.federatedIdentity.deleteMany({ where: { id: identityId, userId } });
      await audit.record({
        type: 'identity.unlinked',
        ...actorFields(actor),
        subject: userId,
        outcome: 'success',
        details: { connection: identity.connection.name },
      });
      return 'unlinked';
    },
  };
}

export type Identities = ReturnType<typeof createIdentities>;
