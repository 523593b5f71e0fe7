// The client-credentials grant (RFC 6749 section 4.4), registered in place of oidc-provider's
// own so that the rules on audience and scope are Portcullis's:
// - the token is for the API named by `resource` (RFC 8707), or the client's default resource;
//   for an API it is a JWT in the RFC 9068 profile, signed by the current key; with neither it
//   is opaque (usable at introspection);
// - its scope is what was asked, which must lie within what the client may ask and what the
//   API accepts; anything outside is invalid_scope (RFC 6749 section 5.2), never a silent drop;
// - without `scope`, the client gets all of that intersection (RFC 6749 section 3.3 lets the
//   server choose a default; this is Auth0's and Keycloak's).
// - with a DPoP proof the token is bound to the proof's key (RFC 9449 section 5), as in
//   oidc-provider's own grant, which this one replaces (src/oidc/dpop.ts).
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { scopeWords } from '../oauth/index.ts';
import type { ResourceService } from '../resources/index.ts';
import { portcullisClient } from './clientMetadata.ts';
import type { AccessRules } from './access.ts';
import { bindToDpopKey, verifyDpopProof } from './dpop.ts';
import { resourceServerInfo } from './resourceServers.ts';

export const clientCredentialsParameters = new Set(['scope', 'resource']);
/** `resource` may repeat in a request; the grant refuses more than one, with invalid_target. */
export const clientCredentialsDuplicates = new Set(['resource']);

export function createClientCredentialsGrant(
  resources: ResourceService,
  signing: () => { alg: string; kid: string },
  access: Pick<AccessRules, 'permitted'>,
) {
  return async function clientCredentialsGrant(ctx: KoaContextWithOIDC): Promise<void> {
    const client = ctx.oidc.client!;
    const { allowedScope: clientScope, defaultResource } = portcullisClient(client);
    const { provider } = ctx.oidc;
    // DPoP first: a bad, replayed or missing-but-required proof is refused before any lookup
    // (RFC 9449 sections 4.3, 5, 5.2, 11.1).
    const dpop = await verifyDpopProof(ctx);

    let indicator = ctx.oidc.params?.resource as string | string[] | undefined;
    if (Array.isArray(indicator)) {
      if (indicator.length !== 1) throw new errors.InvalidTarget('only one resource may be named with client_credentials');
      indicator = indicator[0];
    }
    const audience = indicator ?? defaultResource;
    const resource = audience === undefined ? undefined : await resources.findByAudience(audience);
    if (audience !== undefined && !resource) throw new errors.InvalidTarget('resource is not a registered API');

    // An API with rbac gives the client only what its roles give.
    const permitted = resource ? await access.permitted(resource, { type: 'client', id: client.clientId }) : undefined;
    const grantable = resource
      ? new Set(scopeWords(resource.scope).filter((scope) => clientScope.has(scope) && (!permitted || permitted.has(scope))))
      : clientScope;
    const param = ctx.oidc.params?.scope;
    const requested = typeof param === 'string' ? [...new Set(scopeWords(param))] : [...grantable];
    const refused = requested.find((scope) => !grantable.has(scope));
    if (refused !== undefined) {
      const accepted = resource && scopeWords(resource.scope).includes(refused);
      throw new errors.InvalidScope(
        !clientScope.has(refused)
          ? 'requested scope is not allowed for this client'
          : !accepted
            ? 'requested scope is not accepted by the resource'
            : "requested scope is not given by the client's roles",
        refused,
      );
    }

    const scope = requested.join(' ') || undefined;
    const token = new provider.ClientCredentials({ client, ...(scope ? { scope } : {}) });
    if (resource) token.resourceServer = new provider.ResourceServer(resource.audience, resourceServerInfo(resource, signing()));
    // cnf.jkt in the JWT or the stored token, and token_type DPoP below (RFC 9449 sections 5, 6).
    bindToDpopKey(token, dpop);
    ctx.oidc.entity('ClientCredentials', token);
    const value = await token.save();
    ctx.body = {
      access_token: value,
      expires_in: token.expiration,
      token_type: token.tokenType,
      ...(scope ? { scope } : {}),
    };
  };
}
