// What each scope lets an app do, in plain words, for the consent page and the account page.
const openIdScopes: Record<string, string> = {
  openid: 'Confirm that it is you',
  profile: 'See your name',
  email: 'See your email address',
  offline_access: 'Stay connected when you are not using it',
};

export interface ScopeRequest {
  text: string;
  detail?: string;
}

export function describeScopes(scopes: string[], resources: { audience: string; name: string | null; scopes: string[] }[]): ScopeRequest[] {
  const requests: ScopeRequest[] = scopes.filter((scope) => scope in openIdScopes).map((scope) => ({ text: openIdScopes[scope]! }));
  for (const resource of resources) {
    if (resource.scopes.length === 0) continue;
    requests.push({
      text: `Use ${resource.name ?? resource.audience} on your behalf`,
      detail: `with permission to: ${resource.scopes.join(', ')}`,
    });
  }
  return requests;
}
