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
      const { iss, sub, aud, exp, iat, jti, scope, client_id, api_key_id, cnf, act, acr, amr, auth_time } = payload;
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
        // RFC 8693 section 4.1: who acts for the subject, when a token was exchanged by delegation.
        ...(act ? { act } : {}),
        // How the person signed in (RFC 9068 section 2.2.1), as the token says it.
        ...(acr ? { acr } : {}),
        ...(amr ? { amr } : {}),
        ...(auth_time ? { auth_time } : {}),
      };
    } catch {
      ctx.body = { active: false };
    }
  };
}

const JWT_RESPONSE = 'application/token-introspection+jwt';

/**
 * RFC 9701: the introspection answer as a signed JWT, for a resource server that asks for one with
 * `Accept: application/token-introspection+jwt`. oidc-provider signs only the answers it makes
 * itself, and Portcullis answers for JWTs and API keys after it (jwtIntrospection above,
 * apiKeyIntrospection): so this step, outside both, hides the wish from oidc-provider, lets every
 * step answer in JSON, and signs whichever answer came out, with oidc-provider's own JWT issuer
 * (`IdToken.issue({ use: 'introspection' })`: the current signing key and the client's
 * `introspection_signed_response_alg`, defaulted in provider.ts to that key's algorithm).
 * The JWT has `typ: token-introspection+jwt`, `iss`, `aud` (the resource server's client_id),
 * `iat`, and the RFC 7662 answer in `token_introspection` (RFC 9701 section 5). Errors (a
 * client that failed to authenticate, a rate limit) stay JSON, as section 4 asks.
 */
export function signedIntrospection(): Middleware {
  return async function signIntrospection(ctx, next) {
    const wanted = ctx.accepts('json', JWT_RESPONSE) === JWT_RESPONSE;
    if (!wanted) return next();
    ctx.req.headers.accept = 'application/json';
    await next();
    const oidcCtx = ctx as unknown as KoaContextWithOIDC;
    const { oidc } = oidcCtx;
    const body = ctx.body as { active?: unknown } | undefined;
    if (oidc?.route !== 'introspection' || ctx.status !== 200 || !oidc.client || typeof body?.active !== 'boolean') return;
    const token = new oidc.provider.IdToken({}, { ctx: oidcCtx });
    token.set('token_introspection', body);
    ctx.body = await token.issue({ use: 'introspection' });
    ctx.type = `${JWT_RESPONSE}; charset=utf-8`;
  };
}
