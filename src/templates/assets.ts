// Serves the pages' static files (the stylesheet, the API-key page's copy script) from
// views/assets, read once at start.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Middleware } from 'koa';
import { viewsDirectory } from './views.ts';

export function staticAsset(urlPath: string, type: string): Middleware {
  return textAsset(fs.readFileSync(path.join(viewsDirectory, urlPath.replace(/^\//, ''))), type);
}

/** Serves `body` (made at start, such as the brand's stylesheet) with an ETag and an hour's caching. */
export function textAsset(content: string | Buffer, type: string): Middleware {
  const body = Buffer.from(content);
  const etag = `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 24)}"`;
  return async function asset(ctx, next) {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('ETag', etag);
    ctx.type = type;
    ctx.body = body;
  };
}
