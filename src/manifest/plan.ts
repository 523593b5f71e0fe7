// `portcullis apply`'s plan: the file, checked whole (its schema, each entry by its service's
// rules of creation, the references between entries and to what the server has, the secrets it
// names) and compared with the server, entry by entry and field by field. Nothing is changed
// until all of it passed; then the changes run through the services, in dependency order: APIs
// before the roles whose permissions name them and the clients that name them, connections before
// the clients signed in to through them, deletions last (clients, connections and roles before
// the APIs they named).
import crypto from 'node:crypto';
import type { OrganizationRoleDefinition, OrganizationService, RoleDefinition, RoleService } from '../access/index.ts';
import type { Actor } from '../audit/index.ts';
import { clientDefinition, replacedFields, usesSecret, type ClientDefinition, type ClientService } from '../clients/index.ts';
import { constantTimeEqual } from '../crypto/index.ts';
import { InputError } from '../errors/index.ts';
import {
  connectionDefinition,
  definitionOfView,
  type ConnectionDefinition,
  type ConnectionView,
  type FederationService,
} from '../federation/index.ts';
import { scopeWords } from '../oauth/index.ts';
import { resourceDefinition, type ResourceDefinition, type ResourceService } from '../resources/index.ts';
import { changedConnectionFields, connectionEntry, connectionUpdate, type ComparedField } from './connections.ts';
import { clientEntry, resourceEntry } from './document.ts';
import { changedRoleFields, organizationRoleKind, permissionList, roleKind, type KnownApi, type RoleKind } from './roles.ts';
import {
  manifestSchema,
  type Manifest,
  type ManifestClient,
  type ManifestConnection,
  type ManifestOrganizationRole,
  type ManifestRole,
} from './schema.ts';
import { readSecret, type ReadSecret } from './secrets.ts';
import { ManifestError, type ManifestSource, type ValuePath } from './source.ts';

type ConnectionService = FederationService['connections'];

/** What the plan reads and changes: the client, resource, role, organization and connection services. */
export interface ManifestServices {
  clients: Pick<ClientService, 'definitions' | 'create' | 'replace' | 'secretMatches' | 'setSecret' | 'delete'>;
  resources: Pick<ResourceService, 'definitions' | 'create' | 'replace' | 'delete' | 'deletionBlocker'>;
  /**
   * The connections (src/federation). Without it the plan manages none: a file's connections are
   * refused and --prune deletes none. (Optional only while a caller has no connection service to give.)
   */
  connections: Pick<ConnectionService, 'list' | 'create' | 'update' | 'delete' | 'byId'>;
  /**
   * The roles (src/access). Without it the plan manages none: a file's roles are refused and
   * --prune deletes none (a caller that configures only resources and clients need not give one).
   */
  roles?: Pick<RoleService, 'definitions' | 'create' | 'update' | 'delete'>;
  /**
   * The organization template's roles, and whether an organization a client names exists (the
   * organizations themselves are tenants, data the file never names). Without it, as without roles.
   */
  organizations?: Pick<OrganizationService, 'roleDefinitions' | 'createRole' | 'updateRole' | 'deleteRole' | 'findById'>;
}

export interface PlanOptions {
  /**
   * Delete the clients, connections, roles, organization roles and APIs the file does not name (by
   * default they are left alone, and the plan says so). A role's deletion takes it from whoever held it.
   */
  prune?: boolean;
  /** Where `from_env` secrets are read. */
  env: Record<string, string | undefined>;
  /** Portcullis's own admin API: the server makes it, so no file names it, nothing prunes it, and its scopes are always known. */
  own: { audience: string; scopes: readonly string[] };
}

export type Action = 'create' | 'update' | 'delete' | 'unchanged' | 'not_in_file';
/** One field of a change; a secret is shown as where it comes from (`(from env NAME)`) or `(set)`, never as itself. */
export interface FieldChange {
  field: string;
  from?: unknown;
  to?: unknown;
}
export interface Change {
  action: Action;
  kind: 'resource' | 'role' | 'organization_role' | 'client' | 'connection';
  /** The audience of an API, the client_id of a client, the name of a role, an organization role or a connection. */
  id: string;
  fields?: FieldChange[];
}

export interface Plan {
  /** In the order they are applied; entries the file names and that match the server are `unchanged`. */
  changes: Change[];
  summary: Record<Action, number>;
  /** Makes the changes, one service call (and audit event) each; `done` counts the changes made, if one fails. */
  apply(actor: Actor, done?: (change: Change) => void): Promise<void>;
}

interface Step {
  change: Change;
  run?: (actor: Actor) => Promise<unknown>;
}

const changeOf = (action: Action, kind: Change['kind'], id: string, fields?: FieldChange[]): Change => ({
  action,
  kind,
  id,
  ...(fields ? { fields } : {}),
});

/** The file's entry for a change that needs nothing done. */
const noop = (change: Change): Step => ({ change });

export async function planManifest(source: ManifestSource, services: ManifestServices, options: PlanOptions): Promise<Plan> {
  const manifest = checkSchema(source);
  const resources = manifest.resources.map((entry, i) => checkResource(source, entry, i, options.own.audience));
  refuseDuplicates(
    source,
    'resources',
    'audience',
    resources.map((resource) => resource.audience),
  );
  const clients = manifest.clients.map((entry, i) => checkClient(source, entry, i));
  refuseDuplicates(
    source,
    'clients',
    'client_id',
    clients.map((client) => client.definition.client_id),
  );

  const connections = manifest.connections.map((entry, i) => checkConnection(source, entry, i));
  refuseDuplicates(
    source,
    'connections',
    'name',
    connections.map((connection) => connection.definition.name),
  );
  const connectionService = services.connections;
  const rolesKind = services.roles && roleKind(services.roles);
  const templateKind = services.organizations && organizationRoleKind(services.organizations);
  for (const [section, kind] of [
    ['roles', rolesKind],
    ['organization_roles', templateKind],
  ] as const) {
    if (!kind && manifest[section].length) throw source.error([section], 'cannot be applied here: the plan was given no service for them');
    refuseDuplicates(
      source,
      section,
      'name',
      manifest[section].map((role) => role.name),
    );
  }

  const [serverResources, serverRoles, serverOrganizationRoles, serverClients, serverConnections] = await Promise.all([
    services.resources.definitions(),
    rolesKind?.definitions() ?? [],
    templateKind?.definitions() ?? [],
    services.clients.definitions(),
    connectionService.list(),
  ]);
  const currentResources = new Map(
    serverResources.filter((resource) => resource.audience !== options.own.audience).map((resource) => [resource.audience, resource]),
  );
  const currentRoles = new Map(serverRoles.map((role) => [role.name, role]));
  const currentOrganizationRoles = new Map(serverOrganizationRoles.map((role) => [role.name, role]));
  const currentClients = new Map(serverClients.map((client) => [client.client_id, client]));
  const currentConnections = new Map(serverConnections.map((connection) => [connection.name, connection]));
  const apis = resourcesAfter(resources, [...currentResources.values()], options);
  checkReferences(source, apis, clients, options);
  checkConnectionReferences(source, clients, connections, [...currentConnections.keys()], options);
  const roles = rolesKind ? manifest.roles.map((entry, i) => checkRole(source, rolesKind, entry, i, apis, options)) : [];
  const organizationRoles = templateKind
    ? manifest.organization_roles.map((entry, i) => checkRole(source, templateKind, entry, i, apis, options))
    : [];

  const steps: Step[] = [];
  for (const [i, next] of resources.entries()) {
    const entry = manifest.resources[i]!;
    const current = currentResources.get(next.audience);
    const change = (action: Action, fields?: FieldChange[]) => changeOf(action, 'resource', next.audience, fields);
    if (!current) {
      const fields = created(resourceEntry(next)).filter((field) => field.field !== 'audience');
      steps.push({ change: change('create', fields), run: (actor) => services.resources.create(entry, actor) });
      continue;
    }
    const fields = changedFields(current, next);
    steps.push(
      fields.length
        ? { change: change('update', fields), run: (actor) => services.resources.replace(entry, actor) }
        : noop(change('unchanged')),
    );
  }
  if (rolesKind) steps.push(...roleSteps(source, rolesKind, roles, currentRoles));
  if (templateKind) steps.push(...roleSteps(source, templateKind, organizationRoles, currentOrganizationRoles));
  for (const [i, checked] of connections.entries()) {
    steps.push(await connectionStep(source, connectionService, checked, i, currentConnections.get(checked.definition.name), options));
  }
  for (const [i, { definition: next, settings, reference }] of clients.entries()) {
    const at: ValuePath = ['clients', i];
    const clientId = next.client_id;
    const current = currentClients.get(clientId);
    const change = (action: Action, fields?: FieldChange[]) => changeOf(action, 'client', clientId, fields);
    if (reference && !usesSecret(next.token_endpoint_auth_method)) {
      throw source.error(at, `a client that authenticates with ${next.token_endpoint_auth_method} has no secret`, 'client_secret');
    }
    const secret = reference ? secretOf(source, at, reference, options.env) : undefined;
    const organizationId = next.organization_id;
    if (
      organizationId !== undefined &&
      organizationId !== current?.organization_id &&
      services.organizations &&
      !(await services.organizations.findById(organizationId))
    ) {
      throw source.error(
        at,
        `no organization has the id ${organizationId} on this server (organizations are not in the file: make the organization first, then name its id)`,
        'organization_id',
      );
    }
    if (!current) {
      if (usesSecret(next.token_endpoint_auth_method) && !secret) {
        throw source.error(
          at,
          `a new client that authenticates with ${next.token_endpoint_auth_method} needs client_secret: { from_env: NAME } or ` +
            '{ from_file: PATH } (apply never makes a secret, since it would have to print it; or register the client with ' +
            '`portcullis client create` and name its client_id here)',
          'client_id',
        );
      }
      const fields = [
        ...created(clientEntry(next)).filter((field) => field.field !== 'client_id'),
        ...(secret ? [{ field: 'client_secret', to: secret.shown }] : []),
      ];
      steps.push({
        change: change('create', fields),
        run: (actor) =>
          services.clients.create(settings, actor, { client_id: clientId, ...(secret ? { client_secret: secret.value } : {}) }),
      });
      continue;
    }
    let replaced: (keyof ClientDefinition)[];
    try {
      replaced = replacedFields(current, next);
    } catch (error) {
      if (error instanceof InputError) throw source.error(at, reasonOf(error), error.field);
      throw error;
    }
    const secretChanges = secret && !(await services.clients.secretMatches(clientId, secret.value));
    const fields = [
      ...replaced.map((field) => ({ field, from: current[field] ?? null, to: next[field] ?? null })),
      ...(secretChanges ? [{ field: 'client_secret', from: '(set)', to: secret.shown }] : []),
    ];
    steps.push(
      fields.length
        ? {
            change: change('update', fields),
            run: async (actor) => {
              if (replaced.length) await services.clients.replace(clientId, settings, actor);
              if (secretChanges) await services.clients.setSecret(clientId, { client_secret: secret.value }, actor);
            },
          }
        : noop(change('unchanged')),
    );
  }

  // What the file leaves out: deleted only when asked (clients first: they may name the APIs).
  const namedClients = new Set(clients.map((client) => client.definition.client_id));
  const namedResources = new Set(resources.map((resource) => resource.audience));
  const namedConnections = new Set(connections.map((connection) => connection.definition.name));
  for (const clientId of [...currentClients.keys()].filter((id) => !namedClients.has(id))) {
    steps.push(
      options.prune
        ? { change: changeOf('delete', 'client', clientId), run: (actor) => services.clients.delete(clientId, actor) }
        : noop(changeOf('not_in_file', 'client', clientId)),
    );
  }
  // A connection's deletion also deletes the links to it (the local accounts stay).
  for (const name of [...currentConnections.keys()].filter((id) => !namedConnections.has(id))) {
    steps.push(
      options.prune
        ? { change: changeOf('delete', 'connection', name), run: (actor) => connectionService.delete(name, actor) }
        : noop(changeOf('not_in_file', 'connection', name)),
    );
  }
  // A role's deletion takes it from whoever held it (their next tokens lose what it gave).
  if (rolesKind) steps.push(...pruneSteps(rolesKind, currentRoles, roles, options));
  if (templateKind) steps.push(...pruneSteps(templateKind, currentOrganizationRoles, organizationRoles, options));
  for (const audience of [...currentResources.keys()].filter((id) => !namedResources.has(id))) {
    if (!options.prune) {
      steps.push(noop(changeOf('not_in_file', 'resource', audience)));
      continue;
    }
    const blocker = await services.resources.deletionBlocker(audience);
    if (blocker) throw source.error([], `--prune would delete the API resource ${audience}, which the file leaves out, but ${blocker}`);
    steps.push({ change: changeOf('delete', 'resource', audience), run: (actor) => services.resources.delete({ audience }, actor) });
  }

  const summary: Record<Action, number> = { create: 0, update: 0, delete: 0, unchanged: 0, not_in_file: 0 };
  for (const { change } of steps) summary[change.action] += 1;
  return {
    changes: steps.map((step) => step.change),
    summary,
    async apply(actor, done) {
      for (const step of steps) {
        if (!step.run) continue;
        await step.run(actor);
        done?.(step.change);
      }
    },
  };
}

/** The document against its schema; the first problem is refused with its line and field. */
function checkSchema(source: ManifestSource): Manifest {
  if (source.value === null || source.value === undefined) throw source.error([], `is empty: a configuration starts with portcullis: 1`);
  const result = manifestSchema.safeParse(source.value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') throw source.error(issue.path, `is not a field of ${whatIs(issue.path)}`, issue.keys[0]);
  throw source.error(issue.path, issue.message);
}

function whatIs(valuePath: ValuePath): string {
  if (valuePath.length === 0) return 'the file (portcullis, resources, roles, organization_roles, connections, clients)';
  if (valuePath.at(-1) === 'client_secret') return 'a secret reference (from_env or from_file)';
  const sections: Record<string, string> = {
    resources: 'an API resource',
    roles: 'a role',
    organization_roles: 'an organization role',
    connections: 'a connection',
  };
  return sections[String(valuePath[0])] ?? 'a client';
}

/** An InputError's reason without its field (the refusal names the field with its path). */
const reasonOf = (error: InputError) =>
  error.message.startsWith(`${error.field}: `) ? error.message.slice(error.field.length + 2) : error.message;

function checkResource(source: ManifestSource, entry: Manifest['resources'][number], i: number, ownAudience: string): ResourceDefinition {
  const at: ValuePath = ['resources', i];
  if (entry.audience === ownAudience) {
    throw source.error(at, "is Portcullis's own admin API: the server makes it, and no file configures it", 'audience');
  }
  try {
    return resourceDefinition(entry);
  } catch (error) {
    if (error instanceof InputError) throw source.error(at, reasonOf(error), error.field);
    throw error;
  }
}

interface CheckedClient {
  definition: ClientDefinition;
  settings: Omit<ManifestClient, 'client_id' | 'client_secret'>;
  reference: ManifestClient['client_secret'];
}

function checkClient(source: ManifestSource, entry: ManifestClient, i: number): CheckedClient {
  const { client_id: clientId, client_secret: reference, ...settings } = entry;
  try {
    return { definition: clientDefinition(clientId, settings), settings, reference };
  } catch (error) {
    if (error instanceof InputError) throw source.error(['clients', i], reasonOf(error), error.field);
    throw error;
  }
}

function refuseDuplicates(
  source: ManifestSource,
  list: 'resources' | 'roles' | 'organization_roles' | 'clients' | 'connections',
  key: string,
  values: string[],
): void {
  const seen = new Map<string, number>();
  for (const [i, value] of values.entries()) {
    const first = seen.get(value);
    if (first !== undefined)
      throw source.error([list, i], `${value} is named twice (also at line ${source.lineOf([list, first], key)})`, key);
    seen.set(value, i);
  }
}

/** The APIs the server has once the file is applied: the file's, the server's it keeps (all unless pruned), and the admin API. */
function resourcesAfter(resources: ResourceDefinition[], serverResources: ResourceDefinition[], options: PlanOptions): KnownApi[] {
  const named = new Set(resources.map((resource) => resource.audience));
  const kept = options.prune ? [] : serverResources.filter((resource) => !named.has(resource.audience));
  return [{ audience: options.own.audience, scope: options.own.scopes.join(' ') }, ...resources, ...kept];
}

/** Where a reference was looked for, as a refusal says it. */
const lookedIn = (options: PlanOptions) => (options.prune ? 'in the file' : 'in the file or on the server');

/** Every scope a client may ask for, and its default resource, must be some API's: in the file, on the server (unless pruned), or the admin API. */
function checkReferences(source: ManifestSource, apis: KnownApi[], clients: CheckedClient[], options: PlanOptions): void {
  const scopes = new Set(apis.flatMap((resource) => scopeWords(resource.scope)));
  const audiences = new Set(apis.map((resource) => resource.audience));
  const where = lookedIn(options);
  for (const [i, { definition }] of clients.entries()) {
    const unknown = scopeWords(definition.scope).find((scope) => !scopes.has(scope));
    if (unknown !== undefined) throw source.error(['clients', i], `${unknown} is a scope no API resource accepts (${where})`, 'scope');
    if (definition.default_resource !== undefined && !audiences.has(definition.default_resource)) {
      throw source.error(['clients', i], `no API resource has audience ${definition.default_resource} (${where})`, 'default_resource');
    }
  }
}

function secretOf(
  source: ManifestSource,
  at: ValuePath,
  reference: NonNullable<ManifestClient['client_secret']>,
  env: PlanOptions['env'],
  kind: 'client' | 'connection' = 'client',
): ReadSecret {
  try {
    return readSecret(reference, env, source.folder, kind);
  } catch (error) {
    throw source.error(at, error instanceof Error ? error.message : String(error), 'client_secret');
  }
}

/**
 * A change that a service refuses when it is made (what only the database can say) still names
 * the entry's line: the earlier changes are made, and the message says what to fix.
 */
const atEntry =
  (source: ManifestSource, at: ValuePath, run: (actor: Actor) => Promise<unknown>) =>
  async (actor: Actor): Promise<unknown> => {
    try {
      return await run(actor);
    } catch (error) {
      if (error instanceof InputError && !(error instanceof ManifestError)) throw source.error(at, reasonOf(error), error.field);
      throw error;
    }
  };

/** A role's entry as its definition; each permission must be a scope of an API the server has once the file is applied. */
function checkRole<Entry extends ManifestRole | ManifestOrganizationRole, Definition extends RoleDefinition | OrganizationRoleDefinition>(
  source: ManifestSource,
  kind: RoleKind<Entry, Definition>,
  entry: Entry,
  i: number,
  apis: KnownApi[],
  options: PlanOptions,
): Definition {
  const permissions = permissionList(entry.permissions, apis, (j, reason) =>
    source.error([kind.section, i, 'permissions', j], `${reason} (${lookedIn(options)})`),
  );
  return kind.definitionOf(entry, permissions);
}

/** Each role of the file: created, updated in the fields that differ (a permission list replaces the one before), or unchanged. */
function roleSteps<Definition extends RoleDefinition | OrganizationRoleDefinition>(
  source: ManifestSource,
  kind: RoleKind<never, Definition>,
  roles: Definition[],
  current: Map<string, Definition>,
): Step[] {
  return roles.map((next, i) => {
    const at: ValuePath = [kind.section, i];
    const change = (action: Action, fields?: FieldChange[]) => changeOf(action, kind.kind, next.name, fields);
    const before = current.get(next.name);
    if (!before) {
      const fields = created(kind.entry(next)).filter((field) => field.field !== 'name');
      return { change: change('create', fields), run: atEntry(source, at, (actor) => kind.create(next, actor)) };
    }
    const changed = changedRoleFields(before, next, kind.compared);
    if (!changed.length) return noop(change('unchanged'));
    const update = Object.fromEntries(changed.map((field) => [field, next[field]])) as Partial<Definition>;
    return {
      change: change(
        'update',
        changed.map((field) => ({ field, from: before[field] ?? null, to: next[field] ?? null })),
      ),
      run: atEntry(source, at, (actor) => kind.update(next.name, update, actor)),
    };
  });
}

/** The server's roles of a kind the file leaves out: deleted with --prune, otherwise left alone (and said so). */
function pruneSteps<Definition extends { name: string }>(
  kind: Pick<RoleKind<never, RoleDefinition | OrganizationRoleDefinition>, 'kind' | 'delete'>,
  current: Map<string, Definition>,
  named: Definition[],
  options: PlanOptions,
): Step[] {
  const names = new Set(named.map((role) => role.name));
  return [...current.keys()]
    .filter((name) => !names.has(name))
    .map((name) =>
      options.prune
        ? { change: changeOf('delete', kind.kind, name), run: (actor: Actor) => kind.delete(name, actor) }
        : noop(changeOf('not_in_file', kind.kind, name)),
    );
}

/** A new entry's fields, as the file (export) writes them. */
const created = (entry: object): FieldChange[] => Object.entries(entry).map(([field, to]) => ({ field, to: to as unknown }));

function changedFields(before: ResourceDefinition, after: ResourceDefinition): FieldChange[] {
  const fields = ['name', 'scope', 'ttl', 'personal_key_scope', 'exchange_clients', 'rbac', 'roles_claim'] as const;
  // The definitions write a flag only when it is on, a list only when it has members (kept sorted):
  // an absent flag is false, anything else absent none.
  const valueOf = (definition: ResourceDefinition, field: (typeof fields)[number]) =>
    definition[field] ?? (field === 'rbac' || field === 'roles_claim' ? false : null);
  return fields
    .filter((field) => JSON.stringify(valueOf(before, field)) !== JSON.stringify(valueOf(after, field)))
    .map((field) => ({ field, from: valueOf(before, field), to: valueOf(after, field) }));
}

interface CheckedConnection {
  definition: ConnectionDefinition;
  settings: Omit<ManifestConnection, 'client_secret'>;
  reference: ManifestConnection['client_secret'];
}

function checkConnection(source: ManifestSource, entry: ManifestConnection, i: number): CheckedConnection {
  const { client_secret: reference, ...settings } = entry;
  try {
    return {
      // https in production is the service's check, when the connection is saved.
      definition: connectionDefinition(settings, { production: false }),
      settings,
      reference,
    };
  } catch (error) {
    if (error instanceof InputError) throw source.error(['connections', i], reasonOf(error), error.field);
    throw error;
  }
}

/** A client signed in to through one connection alone must name one the file has, or the server keeps: a typo would lock everyone out of it. */
function checkConnectionReferences(
  source: ManifestSource,
  clients: CheckedClient[],
  connections: CheckedConnection[],
  serverConnections: string[],
  options: PlanOptions,
): void {
  const names = new Set([...connections.map((connection) => connection.definition.name), ...(options.prune ? [] : serverConnections)]);
  const where = options.prune ? 'in the file' : 'in the file or on the server';
  for (const [i, { definition }] of clients.entries()) {
    if (definition.login_connection !== undefined && !names.has(definition.login_connection))
      throw source.error(['clients', i], `no connection is named ${definition.login_connection} (${where})`, 'login_connection');
  }
}

/** Whether `secret` is the connection's (unsealed by its service; compared as digests, so that not even the length shows). */
async function connectionSecretMatches(connections: NonNullable<ManifestServices['connections']>, current: ConnectionView, secret: string) {
  const digest = (value: string) => crypto.createHash('sha256').update(value).digest('hex');
  const found = await connections.byId(current.id);
  return found !== undefined && constantTimeEqual(digest(found.clientSecret), digest(secret));
}

/**
 * A connection's step: created (with the secret the file names), updated field by field (and its
 * secret when the file names one that differs), or unchanged. The service checks an OpenID Connect
 * issuer's discovery document when it saves: a refusal then still names the entry's line.
 */
async function connectionStep(
  source: ManifestSource,
  connections: NonNullable<ManifestServices['connections']>,
  { definition: next, settings, reference }: CheckedConnection,
  i: number,
  current: ConnectionView | undefined,
  options: PlanOptions,
): Promise<Step> {
  const at: ValuePath = ['connections', i];
  const name = next.name;
  const change = (action: Action, fields?: FieldChange[]) => changeOf(action, 'connection', name, fields);
  const secret = reference ? secretOf(source, at, reference, options.env, 'connection') : undefined;
  if (!current) {
    if (!secret) {
      throw source.error(
        at,
        'a new connection needs client_secret: { from_env: NAME } or { from_file: PATH }: the secret the upstream gave for its client_id',
        'client_secret',
      );
    }
    const fields = [
      ...created(connectionEntry(next)).filter((field) => field.field !== 'name'),
      { field: 'client_secret', to: secret.shown },
    ];
    return {
      change: change('create', fields),
      run: atEntry(source, at, (actor) => connections.create({ ...settings, client_secret: secret.value }, actor)),
    };
  }
  const before = definitionOfView(current);
  let changed: ComparedField[];
  try {
    changed = changedConnectionFields(before, next);
  } catch (error) {
    if (error instanceof InputError) throw source.error(at, reasonOf(error), error.field);
    throw error;
  }
  const secretChanges = secret !== undefined && !(await connectionSecretMatches(connections, current, secret.value));
  const fields = [
    ...changed.map((field) => ({ field, from: before[field], to: next[field] })),
    ...(secretChanges ? [{ field: 'client_secret', from: '(set)', to: secret.shown }] : []),
  ];
  if (!fields.length) return noop(change('unchanged'));
  const update = connectionUpdate(next, changed, secretChanges ? secret.value : undefined);
  return { change: change('update', fields), run: atEntry(source, at, (actor) => connections.update(name, update, actor)) };
}
