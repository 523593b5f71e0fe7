// Roles and organizations at the token endpoint and the authorization endpoint: which scopes of
// an API a person, a client or a key may get (an API with rbac gives only what their roles give),
// the `roles` claim an API may ask for, and organizations as resources
// (`urn:portcullis:organization:ID`: the scopes the person's organization roles give there, and
// `organization_id` in the token). What a subject holds is read through the access room's caches
// (a second), so a role taken away narrows the next token, a refresh included.
import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import {
  ORGANIZATION_PICK_RESOURCE,
  organizationOfResource,
  type Holder,
  type OrganizationService,
  type RoleService,
} from '../access/index.ts';
import { scopeWords } from '../oauth/index.ts';
import type { ApiResourceSummary, ResourceService } from '../resources/index.ts';

export interface AccessRules {
  /** The scopes of `resource` the holder may get, or undefined when the API does not restrict them (no rbac). */
  permitted(resource: ApiResourceSummary, holder: Holder): Promise<Set<string> | undefined>;
  /** The names of the holder's roles that give a scope of `resource`. */
  rolesOn(resource: ApiResourceSummary, holder: Holder): Promise<string[]>;
  /**
   * The resource server of an organization indicator (or of the consent page's pick), or
   * undefined when `indicator` names no organization.
   */
  organizationServer(
    ctx: KoaContextWithOIDC,
    indicator: string,
    clientScope: ReadonlySet<string>,
    server: (audience: string, scope: string) => ResourceServer,
  ): Promise<ResourceServer | undefined>;
}

/** The person a request speaks for, when it is known: the token's account, or the signed-in session's. */
export function accountOf(ctx: KoaContextWithOIDC | undefined): string | undefined {
  const entities = ctx?.oidc?.entities as { Account?: { accountId?: string } } | undefined;
  return entities?.Account?.accountId ?? ctx?.oidc?.session?.accountId ?? undefined;
}

export function createAccessRules({ roles, organizations }: { roles: RoleService; organizations: OrganizationService }): AccessRules {
  /** Every scope the template's roles give (before the person is known, the most anyone could get). */
  const templateScopes = () => organizations.templateScopes();

  return {
    permitted: (resource, holder) => roles.permittedOn(resource, holder),

    async rolesOn(resource, holder) {
      const held = await roles.heldBy(holder);
      return held
        .filter((role) => role.permissions.some((permission) => permission.audience === resource.audience))
        .map((role) => role.name);
    },

    async organizationServer(ctx, indicator, clientScope, server) {
      const accountId = accountOf(ctx);
      const within = (words: Iterable<string>) => [...new Set(words)].filter((word) => clientScope.has(word)).join(' ');
      if (indicator === ORGANIZATION_PICK_RESOURCE) {
        // "Let the person choose": only the consent page's pick turns it into an organization.
        if (ctx.oidc.route === 'token') {
          throw new errors.InvalidTarget('name the organization: resource=urn:portcullis:organization:ID');
        }
        if (!accountId) return server(indicator, within(await templateScopes()));
        const mine = await organizations.organizationsOf(accountId);
        if (mine.length === 0) throw new errors.InvalidTarget('the person is not a member of any organization');
        const held = await Promise.all(mine.map((organization) => organizations.membership(accountId, organization.id)));
        return server(indicator, within(held.flatMap((membership) => membership?.permissions.map((permission) => permission.scope) ?? [])));
      }
      if (!indicator.startsWith('urn:portcullis:organization:')) return undefined;
      const organizationId = organizationOfResource(indicator);
      const organization = organizationId ? await organizations.findById(organizationId) : undefined;
      if (!organization) throw new errors.InvalidTarget('resource names no organization');
      // Before the person signs in nothing is issued; the check is made again once they have.
      if (!accountId) return server(indicator, within(await templateScopes()));
      const membership = await organizations.membership(accountId, organization.id);
      if (!membership) throw new errors.InvalidTarget('the person is not a member of this organization');
      return server(indicator, within(membership.permissions.map((permission) => permission.scope)));
    },
  };
}

/**
 * The refresh grant, preceded by one check: a scope the request names outright that the person's
 * roles do not give (on an API with rbac) is invalid_scope (RFC 6749 section 5.2), said before
 * oidc-provider uses the refresh token up, so the client keeps it. A refresh that names no scope
 * gets what the roles give now (getResourceServerInfo filters). Costs a lookup only when `scope`
 * is sent.
 */
export function refreshScopeCheck(
  handler: (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>,
  resources: Pick<ResourceService, 'findByAudience'>,
  access: Pick<AccessRules, 'permitted'>,
) {
  return async function checkedRefresh(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
    const { scope, refresh_token: value, resource: named } = (ctx.oidc.params ?? {}) as Record<string, unknown>;
    if (typeof scope === 'string' && typeof value === 'string') {
      const found = await ctx.oidc.provider.RefreshToken.find(value, { ignoreExpiration: true });
      // Another client's token is the handler's to refuse (invalid_grant), not this check's.
      const token = found?.clientId === ctx.oidc.client?.clientId ? found : undefined;
      const own = token?.resource;
      const indicator =
        typeof named === 'string' ? named : typeof own === 'string' ? own : Array.isArray(own) && own.length === 1 ? own[0] : undefined;
      const resource = token?.accountId && typeof indicator === 'string' ? await resources.findByAudience(indicator) : undefined;
      const permitted = resource ? await access.permitted(resource, { type: 'user', id: token!.accountId! }) : undefined;
      if (resource && permitted) {
        const accepted = new Set(scopeWords(resource.scope));
        const refused = scopeWords(scope).find((word) => accepted.has(word) && !permitted.has(word));
        if (refused !== undefined) throw new errors.InvalidScope("requested scope is not given by the person's roles", refused);
      }
    }
    return handler(ctx, next);
  };
}
