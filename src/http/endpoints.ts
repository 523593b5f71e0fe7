// What Portcullis puts in front of oidc-provider's own endpoints: the methods they accept, and the
// caching of the discovery document. Keyed by the path oidc-provider's router matches (dispatch.ts).
import type Koa from 'koa';
import { methodsAllowed } from './middleware.ts';

const DISCOVERY_PATH = '/.well-known/openid-configuration';

export function providerEndpoints({ jwksMaxAgeSeconds }: { jwksMaxAgeSeconds: number }): Record<string, Koa.Middleware> {
  // RFC 6749 section 3.2: the client MUST use POST at the token endpoint (and RFC 7662 section
  // 2.1, RFC 7009 section 2.1, RFC 8628 section 3.1 and RFC 9126 section 2.1 at introspection,
  // revocation, device authorization and pushed requests); anything else is 405 with Allow
  // (RFC 9110 section 15.5.6), not oidc-provider's plain-text 404.
  const postOnly = methodsAllowed(['POST'], 'this endpoint accepts only POST (RFC 6749 section 3.2)');
  const discovery = discoveryDocument(jwksMaxAgeSeconds);
  return {
    '/token': postOnly,
    '/token/introspection': postOnly,
    '/token/revocation': postOnly,
    '/device/auth': postOnly,
    '/request': postOnly,
    [DISCOVERY_PATH]: discovery,
    // RFC 8414 section 3: OAuth clients look for metadata here; it is the same document.
    '/.well-known/oauth-authorization-server': discovery,
  };
}

/**
 * The discovery document changes only with the configuration, not with key rotation (keys are in
 * the JWKS), so caches may keep it as long as they may keep the JWKS: JWKS_MAX_AGE_SECONDS (10
 * minutes by default, at most a day) is then the one bound on how old a client's picture of this
 * server is. Only a 200 is marked cacheable.
 */
function discoveryDocument(maxAgeSeconds: number): Koa.Middleware {
  const cacheControl = `public, max-age=${maxAgeSeconds}`;
  const readOnly = methodsAllowed(['GET', 'HEAD'], 'the discovery document is read with GET');
  return (ctx, next) =>
    readOnly(ctx, async () => {
      ctx.path = DISCOVERY_PATH;
      await next();
      if (ctx.status === 200) ctx.set('Cache-Control', cacheControl);
    });
}
