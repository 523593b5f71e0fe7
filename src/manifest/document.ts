// The document's entries as `portcullis export` writes them: each API, role, organization role,
// connection and client described whole (ResourceDefinition, RoleDefinition,
// OrganizationRoleDefinition, ConnectionDefinition, ClientDefinition), with what is a default left out so the file reads as what was chosen. Applying an entry gives back the same definition, which is what
// makes export → apply → export give the same document.
import type { OrganizationRoleDefinition, RoleDefinition } from '../access/index.ts';
import type { ClientDefinition } from '../clients/index.ts';
import type { ResourceDefinition } from '../resources/index.ts';
import type { ConnectionDefinition } from '../federation/index.ts';
import { connectionEntry } from './connections.ts';
import { organizationRoleEntry, roleEntry } from './roles.ts';
import { MANIFEST_VERSION, type ManifestDocument } from './schema.ts';

type ResourceEntry = NonNullable<ManifestDocument['resources']>[number];
type ClientEntry = NonNullable<ManifestDocument['clients']>[number];

export function resourceEntry(resource: ResourceDefinition): ResourceEntry {
  return {
    audience: resource.audience,
    ...(resource.name ? { name: resource.name } : {}),
    scope: resource.scope,
    ttl: resource.ttl,
    ...(resource.personal_key_scope ? { personal_key_scope: resource.personal_key_scope } : {}),
    ...(resource.exchange_clients?.length ? { exchange_clients: resource.exchange_clients } : {}),
    ...(resource.rbac ? { rbac: true } : {}),
    ...(resource.roles_claim ? { roles_claim: true } : {}),
  };
}

/** Never a secret: Portcullis keeps only hashes, and a file names where a secret is, not what it is. */
export function clientEntry(client: ClientDefinition): ClientEntry {
  return {
    client_id: client.client_id,
    name: client.name,
    ...(client.public ? { public: true } : {}),
    grant_types: client.grant_types,
    ...(client.redirect_uris.length ? { redirect_uris: client.redirect_uris } : {}),
    ...(client.post_logout_redirect_uris.length ? { post_logout_redirect_uris: client.post_logout_redirect_uris } : {}),
    ...(client.scope ? { scope: client.scope } : {}),
    // A public client's method is always none, which the file does not write (the input has no such choice).
    ...(client.token_endpoint_auth_method === 'none' ? {} : { token_endpoint_auth_method: client.token_endpoint_auth_method }),
    ...(client.jwks ? { jwks: client.jwks } : {}),
    ...(client.default_resource ? { default_resource: client.default_resource } : {}),
    ...(client.always_issue_refresh_token ? { always_issue_refresh_token: true } : {}),
    // The profile implies both flags: writing them too would be redundant, not wrong.
    ...(client.profile ? { profile: client.profile } : {}),
    ...(client.require_pushed_authorization_requests && !client.profile ? { require_pushed_authorization_requests: true } : {}),
    ...(client.dpop_bound_access_tokens && !client.profile ? { dpop_bound_access_tokens: true } : {}),
    ...(client.require_mfa ? { require_mfa: true } : {}),
    ...(client.login_connection ? { login_connection: client.login_connection } : {}),
    // An organization's id is the server's (organizations are data, not in the file): a file that
    // names one applies only where that organization exists.
    ...(client.organization_id ? { organization_id: client.organization_id } : {}),
  };
}

/** What the server has, each kind described whole. */
export interface ManifestContents {
  resources: ResourceDefinition[];
  roles: RoleDefinition[];
  organizationRoles: OrganizationRoleDefinition[];
  connections: ConnectionDefinition[];
  clients: ClientDefinition[];
}

/** The whole document, in a stable order (by audience, by name, by client id) so that two exports compare line by line. */
export function manifestDocument({ resources, roles, organizationRoles, connections, clients }: ManifestContents): ManifestDocument {
  const byKey =
    <T>(key: (item: T) => string) =>
    (one: T, other: T) =>
      key(one) < key(other) ? -1 : key(one) > key(other) ? 1 : 0;
  return {
    portcullis: MANIFEST_VERSION,
    resources: [...resources].sort(byKey((resource) => resource.audience)).map(resourceEntry),
    roles: [...roles].sort(byKey((role) => role.name)).map(roleEntry),
    organization_roles: [...organizationRoles].sort(byKey((role) => role.name)).map(organizationRoleEntry),
    // Never a secret: the connection service keeps it sealed, and the file says where it is.
    connections: [...connections].sort(byKey((connection) => connection.name)).map(connectionEntry),
    clients: [...clients].sort(byKey((client) => client.client_id)).map(clientEntry),
  };
}
