// Introspection of JWT access tokens. oidc-provider refuses to introspect structured tokens
// (400 unsupported_token_type), but every token Portcullis issues for an API is a JWT, and RFC
// 7662 has a plain answer for any token: active or not. So, once oidc-provider has authenticated
// the caller and declined, Portcullis verifies the JWT against its own published keys and answers.
import type { Middleware } from 'koa';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';

export function jwtIntrospection(issuer: string, publicJwks: JSONWebKeySet, apiKeyActive?: (id: string) => Promise<boolean>): Middleware {
  const keys = createLocalJWKSet(publicJwks);
  return async function introspectJwt(ctx, next) {
    await next();
    const { oidc } = ctx as unknown as KoaContextWithOIDC;
    const body = ctx.body as { error?: string } | undefined;
    const token = oidc?.params?.token;
    if (oidc?.route !== 'introspection' || body?.error !== 'unsupported_token_type' || !oidc.client || typeof token !== 'string') return;
    ctx.status = 200;
    try {
      const { payload } = await jwtVerify(token, keys, { issuer, typ: 'at+jwt' });
      const { iss, sub, aud, exp, iat, jti, scope, client_id, api_key_id } = payload;
      // A token exchanged from an API key is live only while the key is.
      if (typeof api_key_id === 'string' && !(await apiKeyActive?.(api_key_id))) throw new Error('API key no longer active');
      ctx.body = {
        active: true,
        token_type: 'Bearer',
        iss,
        sub,
        aud,
        exp,
        iat,
        jti,
        scope,
        client_id,
        ...(api_key_id ? { api_key_id } : {}),
      };
    } catch {
      ctx.body = { active: false };
    }
  };
}
