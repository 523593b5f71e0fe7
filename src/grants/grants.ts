// Grants: what a person consented to, for which client. oidc-provider stores them (through the
// adapter, readable); this service lists them and revokes them with everything issued from them.
import type { AuditLog } from '../audit/index.ts';
import type { Prisma } from '../db/index.ts';
import { InputError } from '../errors/index.ts';
import { isStorableText } from '../oauth/index.ts';
import { artifactIdHash } from '../artifacts/index.ts';

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

const words = (value: unknown) =>
  String(value ?? '')
    .split(' ')
    .filter(Boolean);

export function createGrantService({ prisma, pepper, audit }: { prisma: Prisma; pepper: string; audit: AuditLog }) {
  return {
    async listForAccount(accountId: string): Promise<GrantSummary[]> {
      return this.list({ accountId });
    },

    /** Live grants, by account or client or both. */
    async list({ accountId, clientId }: { accountId?: string; clientId?: string }): Promise<GrantSummary[]> {
      if ((accountId !== undefined && !isStorableText(accountId)) || (clientId !== undefined && !isStorableText(clientId))) return [];
      const rows = await prisma.providerArtifact.findMany({
        where: {
          kind: 'Grant',
          ...(accountId !== undefined ? { accountId } : {}),
          ...(clientId !== undefined ? { clientId } : {}),
          OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }],
        },
        orderBy: { createdAt: 'asc' },
      });
      return rows.map((row) => {
        const payload = JSON.parse(row.payload) as {
          jti: string;
          accountId: string;
          clientId: string;
          openid?: { scope?: string };
          resources?: Record<string, string>;
        };
        return {
          id: payload.jti,
          account_id: payload.accountId,
          client_id: payload.clientId,
          scope: words(payload.openid?.scope).join(' '),
          resources: payload.resources ?? {},
          expires_at: row.expiresAt?.toISOString() ?? null,
        };
      });
    },

    /** Revokes every grant of a user, of a client, or of a user to a client. Returns how many went. */
    async revokeWhere({ accountId, clientId }: { accountId?: string; clientId?: string }): Promise<number> {
      if (!accountId && !clientId) throw new InputError('account_id', 'name a user, a client, or both');
      let revoked = 0;
      for (const grant of await this.list({ ...(accountId ? { accountId } : {}), ...(clientId ? { clientId } : {}) })) {
        if (await this.revoke(grant.id, { actor: 'admin' })) revoked += 1;
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
        where: { kind: 'Grant', accountId, clientId, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] },
        orderBy: { createdAt: 'desc' },
        select: { payload: true },
      });
      return row ? (JSON.parse(row.payload) as { jti: string }).jti : undefined;
    },

    /**
     * Ends a person's access for one client: every grant they gave it, with every code and token
     * issued from those grants. Returns how many grants went.
     */
    async revokeClient(accountId: string, clientId: string): Promise<number> {
      const grants = (await this.listForAccount(accountId)).filter((grant) => grant.client_id === clientId);
      for (const grant of grants) await this.revoke(grant.id, { accountId });
      return grants.length;
    },

    /**
     * Deletes a grant and every code and token issued from it, at once, in one statement.
     * With `accountId`, only that account's grant (anything else is reported as not found).
     */
    async revoke(grantId: string, { accountId, actor = 'user' }: { accountId?: string; actor?: 'user' | 'admin' } = {}): Promise<boolean> {
      const grant = await prisma.providerArtifact.findUnique({
        where: { kind_idHash: { kind: 'Grant', idHash: artifactIdHash(pepper, grantId) } },
      });
      if (!grant || (accountId !== undefined && grant.accountId !== accountId)) return false;
      await prisma.providerArtifact.deleteMany({ where: { OR: [{ grantId }, { kind: 'Grant', idHash: grant.idHash }] } });
      await audit.record({
        type: 'consent.revoked',
        actorType: actor,
        ...(accountId ? { actorId: accountId } : {}),
        subject: grant.clientId ?? undefined,
        outcome: 'success',
        details: { account_id: grant.accountId },
      });
      return true;
    },
  };
}

export type GrantService = ReturnType<typeof createGrantService>;
