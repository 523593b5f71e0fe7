// The service methods configuration as code relies on, on a fresh database without HTTP: a client
// created with a given id and secret, replaced whole, given a secret; an API replaced whole and
// deleted. Each change writes one audit event; a replacement that changes nothing writes none.
import crypto from 'node:crypto';
import type { Actor } from '../../src/audit/index.ts';
import type { ClientCreateInput } from '../../src/clients/index.ts';
import { ConflictError } from '../../src/errors/index.ts';
import { ADMIN_SCOPES, adminAudience } from '../../src/resources/index.ts';
import { eventsOf, refusedField, startServices, type TestServices } from '../support/services.ts';

const API = 'https://orders.example';
const ADMIN: Actor = { type: 'admin' };
const SECRET = crypto.randomBytes(32).toString('base64url');

let running: TestServices;
beforeAll(async () => {
  running = await startServices();
  await running.services.resources.create({ audience: API, scope: 'orders:read orders:write' }, ADMIN);
});
afterAll(() => running.stop());

const service = { name: 'svc', grant_types: ['client_credentials'], scope: 'orders:read' } satisfies ClientCreateInput;
const app = {
  name: 'app',
  public: true,
  grant_types: ['authorization_code'],
  redirect_uris: ['http://localhost/cb'],
} satisfies ClientCreateInput;
let next = 0;
const newId = () => `client-${(next += 1)}`;

describe('clients.create with what it is given', () => {
  test('a given id and secret: the secret is not returned, and is the one that matches', async () => {
    const clientId = newId();
    const created = await running.services.clients.create(service, ADMIN, { client_id: clientId, client_secret: SECRET });
    expect(created).toEqual({ client_id: clientId });
    expect(await running.services.clients.secretMatches(clientId, SECRET)).toBe(true);
    expect(await running.services.clients.secretMatches(clientId, `${SECRET}x`)).toBe(false);
    const row = await running.db.prisma.client.findUniqueOrThrow({ where: { id: clientId } });
    expect(row.secretHash).toMatch(/^hmac-sha256:/);
    expect(JSON.stringify(row)).not.toContain(SECRET);
  });

  test('an id already taken is a conflict', async () => {
    const clientId = newId();
    await running.services.clients.create(service, ADMIN, { client_id: clientId, client_secret: SECRET });
    await expect(running.services.clients.create(service, ADMIN, { client_id: clientId, client_secret: SECRET })).rejects.toBeInstanceOf(
      ConflictError,
    );
  });

  test.each<[string, string, ClientCreateInput, Record<string, unknown>]>([
    ['an id starting with a dash', 'client_id', service, { client_id: '-x' }],
    ['an id with a space', 'client_id', service, { client_id: 'a b' }],
    ['a secret under 32 characters', 'client_secret', service, { client_secret: 'x'.repeat(31) }],
    ['a secret with a control character', 'client_secret', service, { client_secret: `${'x'.repeat(40)}\u0001` }],
    ['a secret with white space around it', 'client_secret', service, { client_secret: ` ${SECRET}` }],
    ['a secret for a public client', 'client_secret', app, { client_secret: SECRET }],
    ['an unknown field', 'colour', service, { colour: 'red' }],
  ])('%s is refused, naming %s', async (_case, field, input, given) => {
    expect(await refusedField(running.services.clients.create(input, ADMIN, given as never))).toBe(field);
  });
});

describe('clients.replace', () => {
  test('the same settings write nothing and record nothing', async () => {
    const clientId = newId();
    await running.services.clients.create(service, ADMIN, { client_id: clientId, client_secret: SECRET });
    const before = await running.db.prisma.client.findUniqueOrThrow({ where: { id: clientId } });
    expect(await eventsOf(running, () => running.services.clients.replace(clientId, service, ADMIN))).toEqual([]);
    expect(await running.db.prisma.client.findUniqueOrThrow({ where: { id: clientId } })).toEqual(before);
  });

  test('every setting can change; one event names the fields; a removed default resource is gone; unnamed metadata stays', async () => {
    const clientId = newId();
    await running.services.clients.create({ ...service, default_resource: API }, ADMIN, { client_id: clientId, client_secret: SECRET });
    const row = await running.db.prisma.client.findUniqueOrThrow({ where: { id: clientId } });
    await running.db.prisma.client.update({
      where: { id: clientId },
      data: { metadata: { ...(row.metadata as Record<string, unknown>), tos_uri: 'https://app.example/tos' } },
    });
    const web = {
      name: 'renamed',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['https://app.example/cb'],
      scope: 'orders:write',
      token_endpoint_auth_method: 'client_secret_post',
      always_issue_refresh_token: true,
    } satisfies ClientCreateInput;
    const events = await eventsOf(running, () => running.services.clients.replace(clientId, web, ADMIN));
    expect(events.map((event) => [event.type, event.details])).toEqual([
      [
        'client.updated',
        {
          fields: [
            'name',
            'grant_types',
            'redirect_uris',
            'scope',
            'token_endpoint_auth_method',
            'default_resource',
            'always_issue_refresh_token',
          ],
        },
      ],
    ]);
    const metadata = await running.services.clients.findProviderMetadata(clientId);
    expect(metadata).toMatchObject({
      client_name: 'renamed',
      token_endpoint_auth_method: 'client_secret_post',
      tos_uri: 'https://app.example/tos',
    });
    expect(metadata).not.toHaveProperty('default_resource');
    expect(await running.services.clients.secretMatches(clientId, SECRET)).toBe(true);
  });

  test.each<[string, string, ClientCreateInput, ClientCreateInput]>([
    ['a confidential client made public', 'public', service, { ...app, name: 'svc' }],
    ['a public client made confidential', 'public', app, { ...service, name: 'app' }],
    [
      'a move to private_key_jwt without keys',
      'jwks',
      service,
      { ...service, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] } },
    ],
    ['a default resource no API has', 'default_resource', service, { ...service, default_resource: 'https://nowhere.example' }],
    ['settings the rules of creation refuse', 'grant_types', service, { ...service, grant_types: ['refresh_token'] }],
  ])('%s is refused, naming %s, and nothing changes', async (_case, field, from, to) => {
    const clientId = newId();
    await running.services.clients.create(from, ADMIN, { client_id: clientId, ...(from.public ? {} : { client_secret: SECRET }) });
    const before = await running.db.prisma.client.findUniqueOrThrow({ where: { id: clientId } });
    expect(await refusedField(running.services.clients.replace(clientId, to, ADMIN))).toBe(field);
    expect(await running.db.prisma.client.findUniqueOrThrow({ where: { id: clientId } })).toEqual(before);
  });

  test('a secret client moved to keys is refused, naming token_endpoint_auth_method', async () => {
    const clientId = newId();
    await running.services.clients.create(service, ADMIN, { client_id: clientId, client_secret: SECRET });
    const jwk = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const keyed = { ...service, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } } satisfies ClientCreateInput;
    expect(await refusedField(running.services.clients.replace(clientId, keyed, ADMIN))).toBe('token_endpoint_auth_method');
  });
});

describe('clients.setSecret', () => {
  test('replaces the secret at once, ends a rotation grace period, and records client.secret_set', async () => {
    const clientId = newId();
    await running.services.clients.create(service, ADMIN, { client_id: clientId, client_secret: SECRET });
    const rotated = await running.services.clients.rotateSecret(clientId, { grace_seconds: 3600 }, ADMIN);
    const given = crypto.randomBytes(32).toString('base64');
    const events = await eventsOf(running, () => running.services.clients.setSecret(clientId, { client_secret: given }, ADMIN));
    expect(events.map((event) => event.type)).toEqual(['client.secret_set']);
    expect(await running.services.clients.secretMatches(clientId, given)).toBe(true);
    const row = await running.db.prisma.client.findUniqueOrThrow({ where: { id: clientId } });
    expect(row).toMatchObject({ previousSecretHash: null, previousSecretExpiresAt: null });
    expect(JSON.stringify(row)).not.toContain(given);
    expect(await running.services.clients.secretMatches(clientId, rotated.client_secret)).toBe(false);
  });

  test.each<[string, string, boolean, string]>([
    ['a public client', 'client_secret', true, SECRET],
    ['a short secret', 'client_secret', false, 'short'],
  ])('%s is refused, naming %s', async (_case, field, isPublic, secret) => {
    const clientId = newId();
    await running.services.clients.create(isPublic ? app : service, ADMIN, {
      client_id: clientId,
      ...(isPublic ? {} : { client_secret: SECRET }),
    });
    expect(await refusedField(running.services.clients.setSecret(clientId, { client_secret: secret }, ADMIN))).toBe(field);
  });
});

describe('resources.replace and delete', () => {
  let next = 0;
  const audience = () => `https://api${(next += 1)}.example`;

  test('the same settings record nothing; changes record one event with the fields', async () => {
    const api = audience();
    await running.services.resources.create({ audience: api, scope: 'a b', name: 'A', personal_key_scope: 'a' }, ADMIN);
    expect(
      await eventsOf(running, () =>
        running.services.resources.replace({ audience: api, scope: 'a b a', name: ' A ', personal_key_scope: 'a' }, ADMIN),
      ),
    ).toEqual([]);
    const events = await eventsOf(running, () => running.services.resources.replace({ audience: api, scope: 'a c', ttl: 120 }, ADMIN));
    expect(events.map((event) => [event.type, (event.details as { fields: string[] }).fields])).toEqual([
      ['resource.updated', ['name', 'scope', 'ttl', 'personal_key_scope']],
    ]);
    expect(await running.services.resources.findByAudience(api)).toMatchObject({
      name: null,
      scope: 'a c',
      access_token_ttl: 120,
      personal_key_scope: '',
    });
  });

  test.each<[string, string, Record<string, unknown>]>([
    ['personal scopes outside the new scope', 'personal_key_scope', { scope: 'x', personal_key_scope: 'a' }],
    ['a lifetime out of bounds', 'ttl', { scope: 'a', ttl: 10 }],
    ['an unknown field', 'colour', { scope: 'a', colour: 'red' }],
  ])('%s is refused, naming %s', async (_case, field, input) => {
    const api = audience();
    await running.services.resources.create({ audience: api, scope: 'a' }, ADMIN);
    expect(await refusedField(running.services.resources.replace({ audience: api, ...input } as never, ADMIN))).toBe(field);
  });

  test("people are never offered the admin API's scopes", async () => {
    const own = adminAudience(running.config.issuer);
    await running.services.resources.ensure(own, `${ADMIN_SCOPES.read} ${ADMIN_SCOPES.write}`, 'Portcullis admin API');
    const input = { audience: own, scope: ADMIN_SCOPES.read, personal_key_scope: ADMIN_SCOPES.read };
    expect(await refusedField(running.services.resources.replace(input, ADMIN))).toBe('personal_key_scope');
  });

  test('delete is refused while a live API key is for the API, and allowed once it is revoked', async () => {
    const api = audience();
    await running.services.resources.create({ audience: api, scope: 'a' }, ADMIN);
    const key = await running.services.apiKeys.create({ name: 'k', scope: 'a', audiences: [api] }, ADMIN);
    expect(await running.services.resources.deletionBlocker(api)).toMatch(/1 API key/);
    await expect(running.services.resources.delete({ audience: api }, ADMIN)).rejects.toBeInstanceOf(ConflictError);
    await running.services.apiKeys.revoke(key.id, ADMIN);
    const events = await eventsOf(running, () => running.services.resources.delete({ audience: api }, ADMIN));
    expect(events.map((event) => [event.type, event.subject])).toEqual([['resource.deleted', api]]);
    expect(await running.services.resources.findByAudience(api)).toBeUndefined();
  });
});
