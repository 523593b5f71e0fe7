// The federation service: connections (connections.ts), the upstream conversation (upstream.ts)
// and the links between upstream and local accounts (identities.ts), plus the two steps of a
// sign-in through a connection that the pages call: sending the person upstream, and reading
// who they are when they come back.
import type { AuditLog } from '../audit/index.ts';
import type { Prisma } from '../db/index.ts';
import { createConnections, type Connection } from './connections.ts';
import { createIdentities, profileOf, type UpstreamProfile } from './identities.ts';
import { createUpstreams, UpstreamError, type UpstreamChecks, type UpstreamResult } from './upstream.ts';

export interface FederationOptions {
  prisma: Prisma;
  audit: AuditLog;
  /** KEY_ENCRYPTION_KEY as base64url, and the pepper: connection secrets and upstream tokens are sealed under them. */
  sealingKey: string;
  pepper: string;
  issuer: string;
  production: boolean;
  /** FEDERATION_TIMEOUT_SECONDS: the longest any request to an upstream may take. */
  timeoutSeconds: number;
}

/** What a sign-in keeps (in its interaction, sealed at rest) between going upstream and coming back. */
export interface FederationFlow extends UpstreamChecks {
  connectionId: string;
  connection: string;
}

/** The sign-in (interaction uid) a callback's state names: the part before its last dot. */
export function signInOfState(state: string | null | undefined): string | undefined {
  if (!state || state.length > 300) return undefined;
  const dot = state.lastIndexOf('.');
  const uid = dot > 0 ? state.slice(0, dot) : '';
  return /^[A-Za-z0-9_-]{8,128}$/.test(uid) ? uid : undefined;
}

export function createFederation({ prisma, audit, sealingKey, pepper, issuer, production, timeoutSeconds }: FederationOptions) {
  const upstreams = createUpstreams({ timeoutSeconds, allowInsecure: !production });
  const connections = createConnections({ prisma, audit, upstreams, sealingKey, pepper, issuer, production });
  const identities = createIdentities({ prisma, audit, sealingKey, pepper });

  return {
    connections,
    identities,

    /**
     * The upstream authorization request for `connection`, and what to keep until the callback.
     * `signIn` (the interaction's uid) starts the state, so the callback finds its sign-in.
     */
    async begin(
      connection: Connection,
      { signIn, loginHint }: { signIn: string; loginHint?: string },
    ): Promise<{ url: string; flow: FederationFlow }> {
      const { url, checks } = await upstreams.authorizationRequest(connection, {
        redirectUri: connections.callbackUrl(connection.name),
        scope: connection.scope,
        statePrefix: signIn,
        ...(loginHint ? { loginHint } : {}),
      });
      return { url, flow: { ...checks, connectionId: connection.id, connection: connection.name } };
    },

    /**
     * The callback's parameters (`query`, as the upstream sent them) checked against `flow`:
     * who signed in upstream, through which connection, and the upstream's tokens.
     */
    async complete(
      flow: FederationFlow,
      query: URLSearchParams,
    ): Promise<{ connection: Connection; profile: UpstreamProfile; tokens: UpstreamResult['tokens'] }> {
      const connection = await connections.byId(flow.connectionId);
      if (!connection?.enabled) throw new UpstreamError('bad_state', 'the connection this sign-in went through is gone or turned off');
      const callback = new URL(connections.callbackUrl(connection.name));
      for (const [key, value] of query) callback.searchParams.append(key, value);
      const result = await upstreams.complete(connection, callback, flow);
      return { connection, profile: profileOf(connection, result.claims), tokens: result.tokens };
    },
  };
}

export type FederationService = ReturnType<typeof createFederation>;
