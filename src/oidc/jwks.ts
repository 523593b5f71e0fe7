// The JWKS endpoint, served by Portcullis rather than oidc-provider so that it can be cached:
// `Cache-Control: public, max-age` (the same lifetime the key rotation waits for), a strong
// `ETag`, and 304 for a matching `If-None-Match`.
import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import type { LiveProvider } from './liveProvider.ts';

export function jwksEndpoint(live: LiveProvider, maxAgeSeconds: number): Middleware {
  let cachedFor: object | undefined;
  let body = '';
  let etag = '';
  return async function jwks(ctx, next) {
    if (ctx.path !== '/jwks' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    const { publicJwks } = live.current().keys;
    if (cachedFor !== publicJwks) {
      body = JSON.stringify(publicJwks);
      etag = `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
      cachedFor = publicJwks;
    }
    ctx.set('Cache-Control', `public, max-age=${maxAgeSeconds}`);
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.etag = etag;
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/jwk-set+json; charset=utf-8';
    ctx.body = body;
  };
}
