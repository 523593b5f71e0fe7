// What each scope lets an app do, in plain words and the page's language (views/locales/*/scopes.json),
// for the consent page and the account page's list of apps with access. An organization's
// resource (urn:portcullis:organization:ID) is told by the organization's name, not its URN.
import { ORGANIZATION_PICK_RESOURCE, organizationOfResource, ORGANIZATIONS_SCOPE, type OrganizationService } from '../access/index.ts';
import { createCatalogue, type Translate } from '../i18n/index.ts';
import type { ResourceService } from '../resources/index.ts';

/** The OpenID Connect scopes people are told about, by their catalogue key; an API's scopes are told by their API. */
const OPENID_SCOPES = new Map([
  ['openid', 'scopes.openid'],
  ['profile', 'scopes.profile'],
  ['email', 'scopes.email'],
  ['offline_access', 'scopes.offline_access'],
  [ORGANIZATIONS_SCOPE, 'scopes.organizations'],
]);

export interface ScopeRequest {
  text: string;
  detail?: string;
}

/**
 * One resource an app asks scopes of: an API (by its name, else its audience), an organization
 * (by its name), or the organization the person picks on the consent page.
 */
export interface ResourceRequest {
  audience: string;
  name: string | null;
  scopes: string[];
  kind?: 'api' | 'organization' | 'pick';
}

/** A resource by its indicator, named as a person knows it: an organization by its name, an API by its own. */
export async function resourceRequest(
  {
    resources,
    organizations,
  }: { resources: Pick<ResourceService, 'findByAudience'>; organizations: Pick<OrganizationService, 'findById'> },
  audience: string,
  scopes: string[],
): Promise<ResourceRequest> {
  if (audience === ORGANIZATION_PICK_RESOURCE) return { audience, name: null, scopes, kind: 'pick' };
  const organizationId = organizationOfResource(audience);
  if (organizationId) return { audience, name: (await organizations.findById(organizationId))?.name ?? null, scopes, kind: 'organization' };
  return { audience, name: (await resources.findByAudience(audience))?.name ?? null, scopes, kind: 'api' };
}

let english: Translate | undefined;
/** A caller that passes no translator gets English (read once from the catalogue). */
const fallback = (): Translate => (english ??= createCatalogue().translator('en'));

export function describeScopes(scopes: string[], resources: ResourceRequest[], t: Translate = fallback()): ScopeRequest[] {
  const requests: ScopeRequest[] = scopes.flatMap((scope) => {
    const key = OPENID_SCOPES.get(scope);
    return key ? [{ text: t(key) }] : [];
  });
  for (const resource of resources) {
    if (resource.scopes.length === 0) continue;
    const name = resource.name ?? resource.audience;
    const text =
      resource.kind === 'pick'
        ? t('scopes.organization_pick')
        : resource.kind === 'organization'
          ? t('scopes.organization', { organization: name })
          : t('scopes.api', { api: name });
    requests.push({ text, detail: t('scopes.api_detail', { scopes: resource.scopes.join(', ') }) });
  }
  return requests;
}
