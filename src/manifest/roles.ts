// Roles and the organization template's roles as the document describes them: the services'
// create inputs (roleCreateSchema, organizationRoleCreateSchema) made whole the way the services
// make them (each permission once, sorted; an empty description none), so that an entry and what
// the server has (RoleDefinition, OrganizationRoleDefinition) compare field by field; what
// `portcullis export` writes for one; the update that brings the server's role to the entry (a
// permission list replaces the one before); and the check of each permission against the APIs the
// server will have once the file is applied. The services check permissions against the database,
// change by change: a permission naming an API the same file creates would be refused there if it
// were checked before the API was made, and a bad one found midway would leave half a file applied.
// Who holds a role is not here: assignments are people's data.
import type { Actor } from '../audit/index.ts';
import {
  permissionOf,
  type OrganizationRoleDefinition,
  type OrganizationService,
  type RoleDefinition,
  type RoleService,
} from '../access/index.ts';
import type { ManifestDocument, ManifestOrganizationRole, ManifestRole } from './schema.ts';

/** An API a permission may name: its audience and the scopes it accepts (space-separated). */
export interface KnownApi {
  audience: string;
  scope: string;
}

/**
 * The permissions `texts` name, each once and sorted (how the services store, show and compare
 * them), each a scope of one of `apis`. Read as the role service reads them: the longest audience
 * that prefixes one wins, so that an audience's own colons and a scope's (`read:invoices`) never
 * confuse the split. The first that names no scope of an API is passed to `refuse`, with its place.
 */
export function permissionList(
  texts: readonly string[],
  apis: readonly KnownApi[],
  refuse: (index: number, reason: string) => Error,
): string[] {
  for (const [index, text] of texts.entries()) {
    const read = permissionOf(text, apis);
    if ('problem' in read) throw refuse(index, read.problem);
  }
  // The text is AUDIENCE:SCOPE exactly as stored, so the texts sort as the service sorts the pairs.
  return [...new Set(texts)].sort();
}

type RoleEntry = NonNullable<ManifestDocument['roles']>[number];
type OrganizationRoleEntry = NonNullable<ManifestDocument['organization_roles']>[number];

/** Both kinds of role: a name, perhaps a description, the permissions. */
type AnyRoleDefinition = RoleDefinition | OrganizationRoleDefinition;

/**
 * What the plan needs of one kind of role: how an entry becomes a definition, how the kind is
 * compared and written, and its service's methods in one shape (the role service's and the
 * organization service's template methods are named differently).
 */
export interface RoleKind<Entry extends ManifestRole | ManifestOrganizationRole, Definition extends AnyRoleDefinition> {
  kind: 'role' | 'organization_role';
  /** The document's section. */
  section: 'roles' | 'organization_roles';
  /** The fields compared: all but the name, which is the key. */
  compared: readonly (keyof Definition & string)[];
  definitionOf(entry: Entry, permissions: string[]): Definition;
  entry(definition: Definition): object;
  definitions(): Promise<Definition[]>;
  create(definition: Definition, actor: Actor): Promise<unknown>;
  update(name: string, changes: Partial<Definition>, actor: Actor): Promise<unknown>;
  delete(name: string, actor: Actor): Promise<unknown>;
}

/** What `portcullis export` writes for a role: what is a default (no permissions, not given to new accounts) left out. */
export function roleEntry(role: RoleDefinition): RoleEntry {
  return {
    name: role.name,
    ...(role.description ? { description: role.description } : {}),
    ...(role.permissions.length ? { permissions: role.permissions } : {}),
    ...(role.default ? { default: true } : {}),
  };
}

export function organizationRoleEntry(role: OrganizationRoleDefinition): OrganizationRoleEntry {
  return {
    name: role.name,
    ...(role.description ? { description: role.description } : {}),
    ...(role.permissions.length ? { permissions: role.permissions } : {}),
    ...(role.manage_keys ? { manage_keys: true } : {}),
  };
}

/** The fields of `before` (the server's) that `after` (the file's) changes; a list compares by its members, sorted by both sides. */
export function changedRoleFields<Definition extends AnyRoleDefinition>(
  before: Definition,
  after: Definition,
  compared: readonly (keyof Definition & string)[],
): (keyof Definition & string)[] {
  return compared.filter((field) => JSON.stringify(before[field] ?? null) !== JSON.stringify(after[field] ?? null));
}

/**
 * The update of the changed fields. A description the file drops is sent empty, which the services
 * store as none: one left out of an update would be kept.
 */
const updateOf = <Definition extends AnyRoleDefinition>(changes: Partial<Definition>) =>
  'description' in changes ? { ...changes, description: changes.description ?? '' } : changes;

export const roleKind = (
  roles: Pick<RoleService, 'definitions' | 'create' | 'update' | 'delete'>,
): RoleKind<ManifestRole, RoleDefinition> => ({
  kind: 'role',
  section: 'roles',
  compared: ['description', 'permissions', 'default'],
  definitionOf: (entry, permissions) => ({
    name: entry.name,
    ...(entry.description ? { description: entry.description } : {}),
    permissions,
    default: entry.default,
  }),
  entry: roleEntry,
  definitions: () => roles.definitions(),
  create: (definition, actor) => roles.create(definition, actor),
  update: (name, changes, actor) => roles.update(name, updateOf(changes), actor),
  delete: (name, actor) => roles.delete(name, actor),
});

export const organizationRoleKind = (
  organizations: Pick<OrganizationService, 'roleDefinitions' | 'createRole' | 'updateRole' | 'deleteRole'>,
): RoleKind<ManifestOrganizationRole, OrganizationRoleDefinition> => ({
  kind: 'organization_role',
  section: 'organization_roles',
  compared: ['description', 'permissions', 'manage_keys'],
  definitionOf: (entry, permissions) => ({
    name: entry.name,
    ...(entry.description ? { description: entry.description } : {}),
    permissions,
    manage_keys: entry.manage_keys,
  }),
  entry: organizationRoleEntry,
  definitions: () => organizations.roleDefinitions(),
  create: (definition, actor) => organizations.createRole(definition, actor),
  update: (name, changes, actor) => organizations.updateRole(name, updateOf(changes), actor),
  delete: (name, actor) => organizations.deleteRole(name, actor),
});
