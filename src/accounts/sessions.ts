// A person's browser sessions, as the account page lists and ends them, and the account page's
// own sign-in client. oidc-provider keeps each session as a sealed artifact under the keyed hash
// of its id (src/artifacts), so a session other than the browser's own can be counted, dated and
// ended, but not read: the list says when each began and until when it lasts, and which one is
// this browser's.
import { artifactIdHash } from '../artifacts/index.ts';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import type { Prisma } from '../db/index.ts';

/**
 * The client the account page signs people in through (src/pages/accountSignIn.ts): public,
 * code flow with PKCE, its one redirect URI on this server. It is oidc-provider's static client
 * (no row in the Client table, so no list, export or manifest sees it), and signing in to it asks
 * no consent: it is Portcullis itself (src/oidc/provider.ts, loadExistingGrant).
 */
export const ACCOUNT_CLIENT_ID = 'portcullis-account';

/** Where the account page's sign-in comes back to. */
export const accountCallbackUrl = (issuer: string) => new URL('/account/callback', issuer).href;

/** The account page's client as oidc-provider's static `clients` configuration takes it. */
export function accountClientMetadata(issuer: string, name: string) {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: name,
    token_endpoint_auth_method: 'none' as const,
    grant_types: ['authorization_code'],
    response_types: ['code' as const],
    redirect_uris: [accountCallbackUrl(issuer)],
  };
}

export interface SessionSummary {
  /** The session's row key (the keyed hash of its id): names it without being it. */
  ref: string;
  created_at: string;
  expires_at: string | null;
  /** The browser that asks. */
  current: boolean;
}

const live = () => ({ OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] });

export function createSessionService({ prisma, pepper, audit }: { prisma: Prisma; pepper: string; audit: AuditLog }) {
  const refOf = (sessionId: string) => artifactIdHash(pepper, sessionId);
  return {
    refOf,

    /** The person's live browser sessions, newest first; `currentSessionId` is the asking browser's. */
    async list(accountId: string, currentSessionId: string): Promise<SessionSummary[]> {
      const current = refOf(currentSessionId);
      const rows = await prisma.providerArtifact.findMany({
        where: { kind: 'Session', accountId, ...live() },
        orderBy: { createdAt: 'desc' },
        select: { idHash: true, createdAt: true, expiresAt: true },
      });
      return rows.map((row) => ({
        ref: row.idHash,
        created_at: row.createdAt.toISOString(),
        expires_at: row.expiresAt?.toISOString() ?? null,
        current: row.idHash === current,
      }));
    },

    /**
     * Signs the person out everywhere but here: every other session goes. Their tokens stay (an
     * app the person let in keeps its access until it is revoked on the same page). Returns how
     * many sessions ended.
     */
    async endOthers(accountId: string, currentSessionId: string, actor: Actor): Promise<number> {
      const { count } = await prisma.providerArtifact.deleteMany({
        where: { kind: 'Session', accountId, idHash: { not: refOf(currentSessionId) } },
      });
      await audit.record({
        type: 'user.sessions_ended',
        ...actorFields(actor),
        subject: accountId,
        outcome: 'success',
        details: { sessions_ended: count, kept: 'current' },
      });
      return count;
    },

    /**
     * Ends everything a person holds except this browser's session: other sessions, grants, and
     * every code and token issued from them (a password change: whoever knew the old one is out,
     * and the person stays signed in where they changed it). Returns how many artifacts went.
     */
    async endAllBut(accountId: string, currentSessionId: string | undefined): Promise<number> {
      const grants = await prisma.providerArtifact.findMany({ where: { kind: 'Grant', accountId }, select: { payload: true } });
      const grantIds = grants.map((grant) => (JSON.parse(grant.payload) as { jti: string }).jti);
      const keep = currentSessionId ? refOf(currentSessionId) : undefined;
      const { count } = await prisma.providerArtifact.deleteMany({
        where: {
          AND: [
            { OR: [{ accountId }, ...(grantIds.length ? [{ grantId: { in: grantIds } }] : [])] },
            ...(keep ? [{ NOT: { kind: 'Session', idHash: keep } }] : []),
          ],
        },
      });
      return count;
    },
  };
}

export type SessionService = ReturnType<typeof createSessionService>;
