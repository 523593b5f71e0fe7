// Serves the pages' static files (the stylesheet, the API-key page's copy script, the passkey
// script) from views/assets, and @simplewebauthn/browser's bundle from node_modules, read once at
// start. Everything a page runs comes from our own origin: the CSP allows script-src 'self' only.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Middleware } from 'koa';
import { viewsDirectory } from './views.ts';

export function staticAsset(urlPath: string, type: string): Middleware {
  return textAsset(fs.readFileSync(path.join(viewsDirectory, urlPath.replace(/^\//, ''))), type);
}

/**
 * @simplewebauthn/browser's UMD bundle (the global SimpleWebAuthnBrowser), which
 * views/assets/passkeys.js calls. The package exports only its entry points, so the bundle is
 * found next to the resolved one (script/index.js → dist/bundle/index.umd.min.js).
 */
export function webauthnBrowserAsset(): Middleware {
  const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
  const bundle = path.join(path.dirname(entry), '..', 'dist', 'bundle', 'index.umd.min.js');
  return textAsset(fs.readFileSync(bundle), 'text/javascript; charset=utf-8');
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
