// What each scope lets an app do, in plain words and the page's language (views/locales/*/scopes.json),
// for the consent page and the account page's list of apps with access.
import { createCatalogue, type Translate } from '../i18n/index.ts';

/** The OpenID Connect scopes people are told about; an API's scopes are told by their API. */
const OPENID_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

export interface ScopeRequest {
  text: string;
  detail?: string;
}

let english: Translate | undefined;
/** A caller that passes no translator gets English (read once from the catalogue). */
const fallback = (): Translate => (english ??= createCatalogue().translator('en'));

export function describeScopes(
  scopes: string[],
  resources: { audience: string; name: string | null; scopes: string[] }[],
  t: Translate = fallback(),
): ScopeRequest[] {
  const requests: ScopeRequest[] = scopes.filter((scope) => OPENID_SCOPES.has(scope)).map((scope) => ({ text: t(`scopes.${scope}`) }));
  for (const resource of resources) {
    if (resource.scopes.length === 0) continue;
    requests.push({
      text: t('scopes.api', { api: resource.name ?? resource.audience }),
      detail: t('scopes.api_detail', { scopes: resource.scopes.join(', ') }),
    });
  }
  return requests;
}
