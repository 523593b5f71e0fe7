// Brings oidc-provider's token-endpoint errors in line with RFC 6749 where they differ.
import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * RFC 6749 section 5.2: an authenticated client asking for a grant type it is not registered
 * for gets `unauthorized_client`; oidc-provider answers `invalid_request`. Decided from the
 * request's own state (the client and its grant types), not from the error's wording.
 */
export const unauthorizedClientForGrantType: Middleware = async function unauthorizedClientForGrantType(ctx, next) {
  await next();
  const { oidc } = ctx as unknown as KoaContextWithOIDC;
  const body = ctx.body as { error?: string } | undefined;
  const grantType = oidc?.params?.grant_type;
  if (
    oidc?.route === 'token' &&
    ctx.status === 400 &&
    body?.error === 'invalid_request' &&
    typeof grantType === 'string' &&
    oidc.client &&
    !oidc.client.grantTypeAllowed(grantType)
  ) {
    body.error = 'unauthorized_client';
  }
};
