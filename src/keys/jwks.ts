// The JWKS endpoint, served by Portcullis rather than oidc-provider so that it can be cached:
// `Cache-Control: public, max-age` (the same lifetime the key rotation waits for), a strong
// `ETag`, and 304 for a matching `If-None-Match`.
import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import type { JSONWebKeySet } from 'jose';

/**
 * RFC 9110 section 13.1.2: If-None-Match uses the weak comparison, over a list or `*`. (Koa's
 * `ctx.fresh` also declines when the request says `Cache-Control: no-cache`, which fetch()
 * adds to every conditional request; an origin server should still answer 304.)
 */
function matchesEtag(header: string, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}

/** Serves `publicJwks()`, the key set of the provider generation now answering. */
export function jwksEndpoint(publicJwks: () => JSONWebKeySet, maxAgeSeconds: number): Middleware {
  let cachedFor: object | undefined;
  let body = '';
  let etag = '';
  return async function jwks(ctx, next) {
    if ((ctx.path !== '/jwks' && ctx.path !== '/jwks/') || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    const keys = publicJwks();
    if (cachedFor !== keys) {
      body = JSON.stringify(keys);
      etag = `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
      cachedFor = keys;
    }
    ctx.set('Cache-Control', `public, max-age=${maxAgeSeconds}`);
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('ETag', etag);
    if (matchesEtag(ctx.get('If-None-Match'), etag)) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/jwk-set+json; charset=utf-8';
    ctx.body = body;
  };
}
