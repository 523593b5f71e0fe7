// `portcullis apply`'s plan: the file, checked whole (its schema, each entry by its service's
// rules of creation, the references between entries and to what the server has, the secrets it
// names) and compared with the server, entry by entry and field by field. Nothing is changed
// until all of it passed; then the changes run through the services, in dependency order: APIs
// before the clients that name them, connections before the clients signed in to through them,
// deletions last (clients before the connections and APIs they named).
import crypto from 'node:crypto';
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
import { manifestSchema, type Manifest, type ManifestClient, type ManifestConnection } from './schema.ts';
import { readSecret, type ReadSecret } from './secrets.ts';
import { ManifestError, type ManifestSource, type ValuePath } from './source.ts';

type ConnectionService = FederationService['connections'];

/** What the plan reads and changes: the client, resource and connection services. */
export interface ManifestServices {
  clients: Pick<ClientService, 'definitions' | 'create' | 'replace' | 'secretMatches' | 'setSecret' | 'delete'>;
  resources: Pick<ResourceService, 'definitions' | 'create' | 'replace' | 'delete' | 'deletionBlocker'>;
  /**
   * The connections (src/federation). Without it the plan manages none: a file's connections are
   * refused and --prune deletes none. (Optional only while a caller has no connection service to give.)
   */
  connections: Pick<ConnectionService, 'list' | 'create' | 'update' | 'delete' | 'byId'>;
}

export interface PlanOptions {
  /** Delete the clients, connections and APIs the file does not name (by default they are left alone, and the plan says so). */
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
  kind: 'resource' | 'client' | 'connection';
  /** The audience of an API, the client_id of a client, the name of a connection. */
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

  const [serverResources, serverClients, serverConnections] = await Promise.all([
    services.resources.definitions(),
    services.clients.definitions(),
    connectionService.list(),
  ]);
  const currentResources = new Map(
    serverResources.filter((resource) => resource.audience !== options.own.audience).map((resource) => [resource.audience, resource]),
  );
  const currentClients = new Map(serverClients.map((client) => [client.client_id, client]));
  const currentConnections = new Map(serverConnections.map((connection) => [connection.name, connection]));
  checkReferences(source, resources, clients, [...currentResources.values()], options);
  checkConnectionReferences(source, clients, connections, [...currentConnections.keys()], options);

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
  if (valuePath.length === 0) return 'the file (portcullis, resources, connections, clients)';
  if (valuePath.at(-1) === 'client_secret') return 'a secret reference (from_env or from_file)';
  if (valuePath[0] === 'connections') return 'a connection';
  return valuePath[0] === 'resources' ? 'an API resource' : 'a client';
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

function refuseDuplicates(source: ManifestSource, list: 'resources' | 'clients' | 'connections', key: string, values: string[]): void {
  const seen = new Map<string, number>();
  for (const [i, value] of values.entries()) {
    const first = seen.get(value);
    if (first !== undefined)
      throw source.error([list, i], `${value} is named twice (also at line ${source.lineOf([list, first], key)})`, key);
    seen.set(value, i);
  }
}

/** Every scope a client may ask for, and its default resource, must be some API's: in the file, on the server (unless pruned), or the admin API. */
function checkReferences(
  source: ManifestSource,
  resources: ResourceDefinition[],
  clients: CheckedClient[],
  serverResources: ResourceDefinition[],
  options: PlanOptions,
): void {
  const named = new Set(resources.map((resource) => resource.audience));
  const kept = options.prune ? [] : serverResources.filter((resource) => !named.has(resource.audience));
  const after = [...resources, ...kept];
  const scopes = new Set([...options.own.scopes, ...after.flatMap((resource) => scopeWords(resource.scope))]);
  const audiences = new Set([options.own.audience, ...after.map((resource) => resource.audience)]);
  const where = options.prune ? 'in the file' : 'in the file or on the server';
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

/** A new entry's fields, as the file (export) writes them. */
const created = (entry: object): FieldChange[] => Object.entries(entry).map(([field, to]) => ({ field, to: to as unknown }));

function changedFields(before: ResourceDefinition, after: ResourceDefinition): FieldChange[] {
  const fields = ['name', 'scope', 'ttl', 'personal_key_scope', 'exchange_clients'] as const;
  // A list compares by its members (the definitions keep them sorted); an absent list is none.
  const same = (one: unknown, other: unknown) => JSON.stringify(one ?? null) === JSON.stringify(other ?? null);
  return fields
    .filter((field) => !same(before[field], after[field]))
    .map((field) => ({ field, from: before[field] ?? null, to: after[field] ?? null }));
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
  const atEntry =
    (run: (actor: Actor) => Promise<unknown>) =>
    async (actor: Actor): Promise<unknown> => {
      try {
        return await run(actor);
      } catch (error) {
        if (error instanceof InputError && !(error instanceof ManifestError)) throw source.error(at, reasonOf(error), error.field);
        throw error;
      }
    };
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
      run: atEntry((actor) => connections.create({ ...settings, client_secret: secret.value }, actor)),
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
  return { change: change('update', fields), run: atEntry((actor) => connections.update(name, update, actor)) };
}
