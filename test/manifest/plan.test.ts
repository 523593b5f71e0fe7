// The plan's order and what a failure midway leaves, with the services replaced by a recorder:
// APIs are created before the clients that name them, deletions come last (clients before the
// APIs they may name), and a change that fails stops the apply with the earlier ones made.
import { CLI_ACTOR } from '../../src/audit/index.ts';
import type { ClientDefinition } from '../../src/clients/index.ts';
import { parseSource, planManifest, type Change, type ManifestServices } from '../../src/manifest/index.ts';
import type { ResourceDefinition } from '../../src/resources/index.ts';

const SECRET = 'a-secret-of-more-than-thirty-two-characters';
const own = { audience: 'https://id.example/admin', scopes: ['admin:read', 'admin:write'] };

function recorder(resources: ResourceDefinition[], clients: ClientDefinition[], failOn?: string) {
  const calls: string[] = [];
  const call = (name: string) => async () => {
    if (name === failOn) throw new Error(`${name} failed`);
    calls.push(name);
    return undefined as never;
  };
  const services: ManifestServices = {
    resources: {
      definitions: async () => resources,
      create: async (input) => call(`resources.create ${input.audience}`)(),
      replace: async (input) => call(`resources.replace ${input.audience}`)(),
      delete: async (selector) => call(`resources.delete ${'audience' in selector ? selector.audience : selector.id}`)(),
      deletionBlocker: async () => undefined,
    },
    clients: {
      definitions: async () => clients,
      create: async (_input, _actor, given) => call(`clients.create ${given?.client_id}`)(),
      replace: async (clientId) => call(`clients.replace ${clientId}`)(),
      secretMatches: async () => true,
      setSecret: async (clientId) => call(`clients.setSecret ${clientId}`)(),
      delete: async (clientId) => call(`clients.delete ${clientId}`)(),
    },
    connections: {
      list: async () => [],
      create: async (input) => call(`connections.create ${input.name}`)(),
      update: async (name) => call(`connections.update ${name}`)(),
      delete: async (name) => call(`connections.delete ${name}`)(),
      byId: async () => undefined,
    },
  };
  return { services, calls };
}

const stale: ClientDefinition = {
  client_id: 'stale',
  name: 'stale',
  public: false,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  post_logout_redirect_uris: [],
  scope: '',
  token_endpoint_auth_method: 'client_secret_basic',
  always_issue_refresh_token: false,
  require_pushed_authorization_requests: false,
  dpop_bound_access_tokens: false,
};
const oldApi: ResourceDefinition = { audience: 'https://old.example', scope: 'old', ttl: 900, personal_key_scope: '' };
const text = [
  'portcullis: 1',
  'clients:',
  '  - client_id: svc',
  '    name: svc',
  '    grant_types: [client_credentials]',
  '    scope: orders:read',
  '    default_resource: https://orders.example',
  '    client_secret: { from_env: SECRET }',
  'resources:',
  '  - audience: https://orders.example',
  '    scope: orders:read',
  '',
].join('\n');

const plan = (services: ManifestServices) =>
  planManifest(parseSource('m.yaml', text, '/'), services, { prune: true, env: { SECRET }, own });

test('resources first, then clients, then deletions: clients before resources', async () => {
  const { services, calls } = recorder([oldApi, { ...oldApi, audience: own.audience }], [stale]);
  const planned = await plan(services);
  expect(planned.changes.map((change) => `${change.action} ${change.kind} ${change.id}`)).toEqual([
    'create resource https://orders.example',
    'create client svc',
    'delete client stale',
    'delete resource https://old.example',
  ]);
  await planned.apply(CLI_ACTOR);
  expect(calls).toEqual([
    'resources.create https://orders.example',
    'clients.create svc',
    'clients.delete stale',
    'resources.delete https://old.example',
  ]);
});

test('a failure midway stops there: the changes before it are made, none after', async () => {
  const { services, calls } = recorder([oldApi], [stale], 'clients.delete stale');
  const planned = await plan(services);
  const done: Change[] = [];
  await expect(planned.apply(CLI_ACTOR, (change) => done.push(change))).rejects.toThrow('clients.delete stale failed');
  expect(calls).toEqual(['resources.create https://orders.example', 'clients.create svc']);
  expect(done.map((change) => change.id)).toEqual(['https://orders.example', 'svc']);
});
