// How an API resource from the database looks to oidc-provider: JWT access tokens (RFC 9068)
// with the resource's audience, scopes and lifetime, signed by the current key.
import type { ResourceServer } from 'oidc-provider';
import type { ApiResourceSummary } from '../resources/index.ts';

export function resourceServerInfo(resource: ApiResourceSummary, signing: { alg: string; kid: string }): ResourceServer {
  return {
    audience: resource.audience,
    scope: resource.scope,
    accessTokenTTL: resource.access_token_ttl,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: signing.alg as 'ES256', kid: signing.kid } },
  };
}
