// Grants: what a person consented to, for which client. oidc-provider stores them (through the
// adapter, readable); this service lists them and revokes them with everything issued from them.
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import type { Prisma } from '../db/index.ts';
import { InputError } from '../errors/index.ts';
import { isStorableText, parseInput, scopeWords } from '../oauth/index.ts';
import { artifactIdHash } from '../artifacts/index.ts';
import { grantFilterSchema, type GrantFilter } from './schema.ts';

export interface GrantSummary {
  id: string;
  account_id: string;
  client_id: string;
  /** OpenID Connect scopes granted. */
  scope: string;
  /** API scopes granted, by audience. */
  resources: Record<string, string>;
  expires_at: string | null;
}

/** A grant as the adapter stores it (readable, its id as `jti`; see READABLE_KINDS). */
interface StoredGrant {
  jti: string;
  accountId: string;
  clientId: string;
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

const live = () => ({ OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] });

export function createGrantService({ prisma, pepper, audit }: { prisma: Prisma; pepper: string; audit: AuditLog }) {
  /** Live grants, by account or client or both (internal names: the filter is parsed already). */
  async function findGrants(accountId: string | undefined, clientId: string | undefined): Promise<GrantSummary[]> {
    if ((accountId !== undefined && !isStorableText(accountId)) || (clientId !== undefined && !isStorableText(clientId))) return [];
    const rows = await prisma.providerArtifact.findMany({
      where: {
        kind: 'Grant',
        ...(accountId !== undefined ? { accountId } : {}),
        ...(clientId !== undefined ? { clientId } : {}),
        ...live(),
      },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((row) => {
      const payload: StoredGrant = JSON.parse(row.payload);
      return {
        id: payload.jti,
        account_id: payload.accountId,
        client_id: payload.clientId,
        scope: scopeWords(payload.openid?.scope).join(' '),
        resources: payload.resources ?? {},
        expires_at: row.expiresAt?.toISOString() ?? null,
      };
    });
  }

  /**
   * Deletes a grant and every code and token issued from it, at once, in one statement, and
   * records the actor. With `accountId`, only that account's grant (anything else is not found).
   */
  async function revoke(grantId: string, actor: Actor, accountId?: string): Promise<boolean> {
    const grant = await prisma.providerArtifact.findUnique({
      where: { kind_idHash: { kind: 'Grant', idHash: artifactIdHash(pepper, grantId) } },
    });
    if (!grant || (accountId !== undefined && grant.accountId !== accountId)) return false;
    await prisma.providerArtifact.deleteMany({ where: { OR: [{ grantId }, { kind: 'Grant', idHash: grant.idHash }] } });
    await audit.record({
      type: 'consent.revoked',
      ...actorFields(actor),
      subject: grant.clientId ?? undefined,
      outcome: 'success',
      details: { account_id: grant.accountId },
    });
    return true;
  }

  return {
    /** A person's live grants (the account page). */
    async listForAccount(accountId: string): Promise<GrantSummary[]> {
      return findGrants(accountId, undefined);
    },

    /** Live grants, by account or client or both. */
    async list(filter: GrantFilter): Promise<GrantSummary[]> {
      const { account_id, client_id } = parseInput(grantFilterSchema, filter);
      return findGrants(account_id, client_id);
    },

    /** Revokes every grant of a user, of a client, or of a user to a client. Returns how many went. */
    async revokeWhere(filter: GrantFilter, actor: Actor): Promise<number> {
      const { account_id, client_id } = parseInput(grantFilterSchema, filter);
      if (!account_id && !client_id) throw new InputError('account_id', 'name a user, a client, or both');
      let revoked = 0;
      for (const grant of await findGrants(account_id, client_id)) {
        if (await revoke(grant.id, actor)) revoked += 1;
      }
      return revoked;
    },

    /** Whether the grant stored under `idHash` (its row key, the HMAC of its id) is still live. */
    async isLive(idHash: string): Promise<boolean> {
      if (!isStorableText(idHash)) return false;
      const row = await prisma.providerArtifact.findUnique({
        where: { kind_idHash: { kind: 'Grant', idHash } },
        select: { expiresAt: true },
      });
      return Boolean(row && (!row.expiresAt || row.expiresAt.getTime() > Date.now()));
    },

    /** The id of the newest live grant a person gave a client, from any browser session. */
    async latestFor(accountId: string, clientId: string): Promise<string | undefined> {
      const row = await prisma.providerArtifact.findFirst({
        where: { kind: 'Grant', accountId, clientId, ...live() },
        orderBy: { createdAt: 'desc' },
        select: { payload: true },
      });
      if (!row) return undefined;
      const payload: StoredGrant = JSON.parse(row.payload);
      return payload.jti;
    },

    /**
     * Ends a person's access for one client: every grant they gave it, with every code and token
     * issued from those grants. Returns how many grants went.
     */
    async revokeClient(accountId: string, clientId: string, actor: Actor): Promise<number> {
      const grants = await findGrants(accountId, clientId);
      for (const grant of grants) await revoke(grant.id, actor, accountId);
      return grants.length;
    },
  };
}

export type GrantService = ReturnType<typeof createGrantService>;
