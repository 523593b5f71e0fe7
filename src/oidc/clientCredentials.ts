// The client-credentials grant (RFC 6749 section 4.4), registered in place of oidc-provider's
// own so that the scope rule is Portcullis's: a client gets only scopes it was registered
// with, and asking for any other is invalid_scope (RFC 6749 section 5.2), never a silent drop.
// Without a `scope` parameter the client gets all of its registered scope (RFC 6749 section
// 3.3 lets the server pick a default; this is Auth0's and Keycloak's).
import { errors, type KoaContextWithOIDC } from 'oidc-provider';

export const clientCredentialsParameters = new Set(['scope']);

export async function clientCredentialsGrant(ctx: KoaContextWithOIDC): Promise<void> {
  const client = ctx.oidc.client!;
  const allowed = new Set(
    String((client as unknown as Record<string, unknown>).allowed_scope ?? '')
      .split(' ')
      .filter(Boolean),
  );
  const param = ctx.oidc.params?.scope;
  const requested = typeof param === 'string' ? [...new Set(param.split(' ').filter(Boolean))] : [...allowed];
  const refused = requested.find((scope) => !allowed.has(scope));
  if (refused !== undefined) {
    throw new errors.InvalidScope('requested scope is not allowed for this client', refused);
  }
  const scope = requested.join(' ') || undefined;
  const token = new ctx.oidc.provider.ClientCredentials({ client, ...(scope ? { scope } : {}) });
  ctx.oidc.entity('ClientCredentials', token);
  const value = await token.save();
  ctx.body = {
    access_token: value,
    expires_in: token.expiration,
    token_type: token.tokenType,
    ...(scope ? { scope } : {}),
  };
}
