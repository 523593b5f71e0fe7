// Permissions: scopes of registered APIs. On the wire a permission is `AUDIENCE:SCOPE`; it is
// read against the APIs Portcullis has (the longest audience that prefixes it wins), so that an
// audience's own colons and a scope's (`read:invoices`) never confuse the split. At rest it is
// the pair (audience, scope).
import type { Prisma } from '../db/index.ts';
import { InputError } from '../errors/index.ts';
import { scopeWords } from '../oauth/index.ts';

export interface Permission {
  audience: string;
  scope: string;
}

/** A permission as the wire writes it. */
export const permissionText = (permission: Permission) => `${permission.audience}:${permission.scope}`;

/** Each once, sorted: how a list is stored, shown and compared. */
export function sortedPermissions(permissions: readonly Permission[]): Permission[] {
  const seen = new Map(permissions.map((permission) => [permissionText(permission), permission]));
  return [...seen.keys()].sort().map((key) => seen.get(key)!);
}

/** An API as a permission is read against it. */
export interface PermissionApi {
  audience: string;
  scope: string;
}

/**
 * The permission `text` names among `apis` (the longest audience that prefixes it, then a colon),
 * or why it names none: the one rule the services and configuration as code (which reads against
 * the APIs the server will have after an apply) share.
 */
export function permissionOf(text: string, apis: readonly PermissionApi[]): Permission | { problem: string } {
  let api: PermissionApi | undefined;
  for (const candidate of apis) {
    if (text.startsWith(`${candidate.audience}:`) && (!api || candidate.audience.length > api.audience.length)) api = candidate;
  }
  if (!api) return { problem: `${text} does not begin with the audience of a registered API and a colon` };
  const scope = text.slice(api.audience.length + 1);
  if (!scopeWords(api.scope).includes(scope)) return { problem: `${scope || '(empty)'} is not a scope of ${api.audience}` };
  return { audience: api.audience, scope };
}

/**
 * The permissions `texts` name, each a scope a registered API accepts; the first that is not is
 * refused, naming `field` and its place in the list.
 */
export async function readPermissions(prisma: Prisma, texts: readonly string[], field = 'permissions'): Promise<Permission[]> {
  if (texts.length === 0) return [];
  const apis = await prisma.apiResource.findMany({ select: { audience: true, scope: true } });
  return sortedPermissions(
    texts.map((text, index) => {
      const read = permissionOf(text, apis);
      if ('problem' in read) throw new InputError(`${field}[${index}]`, read.problem);
      return read;
    }),
  );
}

/** The scopes a set of permissions gives on one API. */
export function scopesOn(permissions: Iterable<Permission>, audience: string): Set<string> {
  const scopes = new Set<string>();
  for (const permission of permissions) if (permission.audience === audience) scopes.add(permission.scope);
  return scopes;
}
