// Introspection of JWT access tokens. oidc-provider refuses to introspect structured tokens
// (400 unsupported_token_type), but every token Portcullis issues for an API is a JWT, and RFC
// 7662 has a plain answer for any token: active or not. So, once oidc-provider has authenticated
// the caller and declined, Portcullis verifies the JWT against its own published keys, asks
// whether everything behind it is still live, and answers.
import type { Middleware } from 'koa';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';

export function jwtIntrospection(
  issuer: string,
  publicJwks: JSONWebKeySet,
  /** Whether the key, grant, person and client behind a verified token are still live. */
  isLive: (payload: Record<string, unknown>) => Promise<boolean>,
): Middleware {
  const keys = createLocalJWKSet(publicJwks);
  return async function introspectJwt(ctx, next) {
    await next();
    const { oidc } = ctx as unknown as KoaContextWithOIDC;
    const body = ctx.body as { error?: string } | undefined;
    const token = oidc?.params?.token;
    if (oidc?.route !== 'introspection' || body?.error !== 'unsupported_token_type' || !oidc.client || typeof token !== 'string') return;
    ctx.status = 200;
    // RFC 7662 section 2.1: as for oidc-provider's own tokens, a public client may not introspect.
    if (oidc.client.clientAuthMethod === 'none') {
      ctx.body = { active: false };
      return;
    }
    try {
      const { payload } = await jwtVerify(token, keys, { issuer, typ: 'at+jwt' });
      if (!(await isLive(payload))) throw new Error('no longer live');
      const { iss, sub, aud, exp, iat, jti, scope, client_id, api_key_id, cnf } = payload;
      // RFC 9449 section 6.2: a DPoP-bound token says so, with the key's thumbprint in cnf.
      const jkt = (cnf as { jkt?: unknown } | undefined)?.jkt;
      ctx.body = {
        active: true,
        token_type: typeof jkt === 'string' ? 'DPoP' : 'Bearer',
        iss,
        sub,
        aud,
        exp,
        iat,
        jti,
        scope,
        client_id,
        ...(api_key_id ? { api_key_id } : {}),
        ...(cnf ? { cnf } : {}),
      };
    } catch {
      ctx.body = { active: false };
    }
  };
}
