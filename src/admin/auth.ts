// Who may call the admin API: a bearer of a Portcullis access token (RFC 6750) for the admin
// audience, with `admin:read` for reading and `admin:write` for changing anything. Tokens come
// from the client-credentials grant; the JWT is checked against the live signing keys.
import type { Middleware } from 'koa';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { scopeWords } from '../oauth/index.ts';
import { ADMIN_SCOPES, adminAudience } from '../resources/index.ts';

/** What the guard leaves for the routes: the admin client it let in. */
export interface AdminState {
  adminClientId?: string;
}

function challenge(
  status: 401 | 403,
  error?: string,
  description?: string,
  scope?: string,
): { status: number; header: string; body?: object } {
  const parts = [
    'realm="portcullis-admin"',
    ...(error ? [`error="${error}"`] : []),
    ...(description ? [`error_description="${description}"`] : []),
    ...(scope ? [`scope="${scope}"`] : []),
  ];
  return { status, header: `Bearer ${parts.join(', ')}`, ...(error ? { body: { error, error_description: description } } : {}) };
}

/** Requires a valid admin token carrying `scope`; puts the caller's client id in ctx.state.adminClientId. */
export function requireAdminScope(
  issuer: string,
  publicJwks: () => JSONWebKeySet,
  scope: string,
  clientScope: (clientId: string) => Promise<Set<string> | undefined>,
): Middleware<AdminState> {
  let cachedFor: JSONWebKeySet | undefined;
  let keys: ReturnType<typeof createLocalJWKSet> | undefined;
  return async function authorizeAdmin(ctx, next) {
    const header = ctx.get('authorization');
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    let refusal: ReturnType<typeof challenge> | undefined;
    if (!header) refusal = challenge(401, undefined, undefined, undefined);
    else if (!match) refusal = challenge(401, 'invalid_request', 'use Authorization: Bearer <token>');
    else {
      const current = publicJwks();
      if (current !== cachedFor) {
        cachedFor = current;
        keys = createLocalJWKSet(current);
      }
      try {
        const { payload } = await jwtVerify(match[1]!, keys!, { issuer, audience: adminAudience(issuer), typ: 'at+jwt' });
        // Only a client acting for itself (client credentials): not a person's token from a
        // login, nor a token exchanged from an API key.
        if (typeof payload.client_id !== 'string' || payload.sub !== payload.client_id || payload.api_key_id !== undefined) {
          throw new Error('not a client-credentials token');
        }
        // The client must still exist and still hold the scope: deleting a client or taking the
        // scope away ends its admin access at once, not when its token expires.
        const current = await clientScope(payload.client_id);
        if (!current) throw new Error('client no longer exists');
        const scopes = new Set(scopeWords(payload.scope).filter((item) => current.has(item)));
        // admin:write includes reading.
        if (!scopes.has(scope) && !(scope === ADMIN_SCOPES.read && scopes.has(ADMIN_SCOPES.write))) {
          refusal = challenge(403, 'insufficient_scope', `this needs the ${scope} scope`, scope);
        } else {
          ctx.state.adminClientId = payload.client_id;
        }
      } catch {
        refusal = challenge(401, 'invalid_token', 'the access token is not valid for the admin API');
      }
    }
    if (refusal) {
      ctx.status = refusal.status;
      ctx.set('WWW-Authenticate', refusal.header);
      ctx.body = refusal.body ?? { error: 'unauthorized', error_description: 'a bearer token is required' };
      return;
    }
    await next();
  };
}
