// The client service's rules, on a fresh database without HTTP: every refusal of create, update
// and rotateSecret names its field as the wire spells it, and every change writes one audit
// event with its actor.
import crypto from 'node:crypto';
import type { Actor } from '../../src/audit/index.ts';
import type { ClientCreateInput } from '../../src/clients/index.ts';
import { NotFoundError } from '../../src/errors/index.ts';
import { refusedField, startServices, type TestServices } from '../support/services.ts';

const API = 'https://orders.example';
const ADMIN: Actor = { type: 'admin', id: 'admin-client', ip: '203.0.113.9' };

let running: TestServices;

beforeAll(async () => {
  running = await startServices();
  await running.services.resources.create({ audience: API, scope: 'orders:read' }, ADMIN);
});
afterAll(() => running.stop());

const ecKey = (part: 'public' | 'private') => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return (part === 'public' ? publicKey : privateKey).export({ format: 'jwk' });
};

const service = { name: 'svc', grant_types: ['client_credentials'] } satisfies ClientCreateInput;
const web = { name: 'web', grant_types: ['authorization_code'], redirect_uris: ['https://app.example/cb'] } satisfies ClientCreateInput;
const app = { ...web, name: 'app', public: true } satisfies ClientCreateInput;
const keyed = { ...service, token_endpoint_auth_method: 'private_key_jwt' } satisfies ClientCreateInput;

describe('create', () => {
  test.each<[string, string, Record<string, unknown>]>([
    ['no name', 'name', { grant_types: ['client_credentials'] }],
    ['a blank name', 'name', { ...service, name: '   ' }],
    ['a name over 200 characters', 'name', { ...service, name: 'x'.repeat(201) }],
    ['a name with a control character', 'name', { ...service, name: 'a\u0000b' }],
    ['no grant type', 'grant_types', { name: 'x' }],
    ['an empty grant list', 'grant_types', { ...service, grant_types: [] }],
    ['an unsupported grant type', 'grant_types', { ...service, grant_types: ['password'] }],
    ['a grant type as a string', 'grant_types', { ...service, grant_types: 'client_credentials' }],
    ['a public client with client_credentials', 'grant_types', { ...service, public: true }],
    ['refresh_token without authorization_code', 'grant_types', { ...service, grant_types: ['client_credentials', 'refresh_token'] }],
    ['authorization_code without a redirect URI', 'redirect_uris', { ...web, redirect_uris: [] }],
    ['an empty redirect URI', 'redirect_uris', { ...web, redirect_uris: [''] }],
    ['a relative redirect URI', 'redirect_uris', { ...web, redirect_uris: ['/callback'] }],
    ['http: to a host that is not loopback', 'redirect_uris', { ...web, redirect_uris: ['http://evil.example/cb'] }],
    ['a redirect URI with a fragment', 'redirect_uris', { ...web, redirect_uris: ['https://app.example/cb#frag'] }],
    ['a private-use scheme for a confidential client', 'redirect_uris', { ...web, redirect_uris: ['com.example.app:/cb'] }],
    ['javascript: (confidential)', 'redirect_uris', { ...web, redirect_uris: ['javascript:alert(1)'] }],
    ['javascript: (public)', 'redirect_uris', { ...app, redirect_uris: ['javascript:alert(1)'] }],
    ['data: (public)', 'redirect_uris', { ...app, redirect_uris: ['data:text/html,<script>alert(1)</script>'] }],
    ['file: (public)', 'redirect_uris', { ...app, redirect_uris: ['file:///etc/passwd'] }],
    ['vbscript: (public)', 'redirect_uris', { ...app, redirect_uris: ['vbscript:msgbox(1)'] }],
    [
      'http: after logout to a host that is not loopback',
      'post_logout_redirect_uris',
      { ...web, post_logout_redirect_uris: ['http://evil.example/'] },
    ],
    ['javascript: after logout', 'post_logout_redirect_uris', { ...app, post_logout_redirect_uris: ['javascript:alert(1)'] }],
    ['a fragment after logout', 'post_logout_redirect_uris', { ...web, post_logout_redirect_uris: ['https://app.example/bye#x'] }],
    [
      'a private-use scheme after logout for a confidential client',
      'post_logout_redirect_uris',
      { ...web, post_logout_redirect_uris: ['com.example.app:/bye'] },
    ],
    ['always_issue_refresh_token without refresh_token', 'always_issue_refresh_token', { ...web, always_issue_refresh_token: true }],
    ['an unknown auth method', 'token_endpoint_auth_method', { ...service, token_endpoint_auth_method: 'client_secret_jwt' }],
    ['keys for a secret client', 'jwks', { ...service, jwks: { keys: [ecKey('public')] } }],
    ['keys for a public client', 'jwks', { ...app, jwks: { keys: [ecKey('public')] } }],
    ['private_key_jwt without keys', 'jwks', keyed],
    ['private_key_jwt with an empty key set', 'jwks', { ...keyed, jwks: { keys: [] } }],
    ['private_key_jwt with a symmetric key', 'jwks', { ...keyed, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }],
    ['private_key_jwt with a private key', 'jwks', { ...keyed, jwks: { keys: [ecKey('private')] } }],
    ['a key set that is not one', 'jwks', { ...keyed, jwks: [ecKey('public')] }],
    ['a default resource that is not a URI', 'default_resource', { ...service, default_resource: 'orders' }],
    ['a default resource with a fragment', 'default_resource', { ...service, default_resource: `${API}/#x` }],
    ['a default resource no API has', 'default_resource', { ...service, default_resource: 'https://unknown.example' }],
    ['a scope that is not one', 'scope', { ...service, scope: 'read "write"' }],
    ['an unknown field', 'colour', { ...service, colour: 'red' }],
    ['an unknown profile', 'profile', { ...keyed, jwks: { keys: [ecKey('public')] }, profile: 'fapi1' }],
    ['fapi2 for a public client', 'profile', { ...app, profile: 'fapi2' }],
    ['fapi2 with a client secret', 'token_endpoint_auth_method', { ...web, profile: 'fapi2' }],
    [
      'fapi2 with the device grant',
      'grant_types',
      { ...keyed, jwks: { keys: [ecKey('public')] }, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], profile: 'fapi2' },
    ],
    ['require-par as a string', 'require_pushed_authorization_requests', { ...web, require_pushed_authorization_requests: 'yes' }],
  ])('%s is refused, naming %s', async (_case, field, input) => {
    const before = await running.db.prisma.client.count();
    expect(await refusedField(running.services.clients.create(input as ClientCreateInput, ADMIN))).toBe(field);
    expect(await running.db.prisma.client.count()).toBe(before);
  });

  test.each<[string, boolean, ClientCreateInput]>([
    ['a confidential client', true, service],
    ['a web client on https', true, web],
    [
      'loopback http: and a logout URI',
      true,
      {
        ...web,
        redirect_uris: ['http://localhost:5173/cb', 'http://127.0.0.1:8123/cb', 'http://[::1]/cb'],
        post_logout_redirect_uris: ['https://app.example/bye'],
      },
    ],
    ['a native app with a private-use scheme', false, { ...app, redirect_uris: ['com.example.app:/cb'] }],
    ['a private_key_jwt client with a public key', false, { ...keyed, jwks: { keys: [ecKey('public')] } }],
    ['a default resource that exists', true, { ...service, default_resource: API }],
    ['refresh tokens always', true, { ...web, grant_types: ['authorization_code', 'refresh_token'], always_issue_refresh_token: true }],
    ['PAR and DPoP required', true, { ...web, require_pushed_authorization_requests: true, dpop_bound_access_tokens: true }],
  ])('%s is registered (a secret: %s)', async (_case, hasSecret, input) => {
    const created = await running.services.clients.create(input, ADMIN);
    expect(typeof created.client_secret === 'string').toBe(hasSecret);
    expect(await running.services.clients.get(created.client_id)).toMatchObject({ name: input.name, grant_types: input.grant_types });
  });
});

test('the fapi2 profile turns on PAR and DPoP for the client, and says so in its definition', async () => {
  const created = await running.services.clients.create(
    { ...web, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [ecKey('public')] }, profile: 'fapi2' },
    ADMIN,
  );
  const metadata = await running.services.clients.findProviderMetadata(created.client_id);
  expect(metadata).toMatchObject({ require_pushed_authorization_requests: true, dpop_bound_access_tokens: true, profile: 'fapi2' });
  const [definition] = (await running.services.clients.definitions()).filter((client) => client.client_id === created.client_id);
  expect(definition).toMatchObject({ profile: 'fapi2', require_pushed_authorization_requests: true, dpop_bound_access_tokens: true });
  // And what the CLI's `client list` and the admin API show of it.
  expect(await running.services.clients.get(created.client_id)).toMatchObject({
    profile: 'fapi2',
    require_pushed_authorization_requests: true,
    dpop_bound_access_tokens: true,
    registered: false,
  });
  const plain = await running.services.clients.create(service, ADMIN);
  expect(await running.services.clients.get(plain.client_id)).toMatchObject({
    profile: null,
    require_pushed_authorization_requests: false,
    dpop_bound_access_tokens: false,
    registered: false,
  });
});

describe('update', () => {
  let clientId: string;
  beforeAll(async () => {
    clientId = (await running.services.clients.create(web, ADMIN)).client_id;
  });

  test.each<[string, string, Record<string, unknown>]>([
    ['a blank name', 'name', { name: ' ' }],
    ['no redirect URI for authorization_code', 'redirect_uris', { redirect_uris: [] }],
    ['http: to a host that is not loopback', 'redirect_uris', { redirect_uris: ['http://evil.example/cb'] }],
    ['javascript:', 'redirect_uris', { redirect_uris: ['javascript:alert(1)'] }],
    ['a fragment', 'redirect_uris', { redirect_uris: ['https://app.example/cb#x'] }],
    ['data: after logout', 'post_logout_redirect_uris', { post_logout_redirect_uris: ['data:text/html,x'] }],
    ['a scope that is not one', 'scope', { scope: 'a"b' }],
    ['a field update does not change', 'grant_types', { grant_types: ['client_credentials'] }],
  ])('%s is refused, naming %s, and nothing changes', async (_case, field, changes) => {
    const before = await running.db.prisma.client.findUniqueOrThrow({ where: { id: clientId } });
    expect(await refusedField(running.services.clients.update(clientId, changes, ADMIN))).toBe(field);
    expect(await running.db.prisma.client.findUniqueOrThrow({ where: { id: clientId } })).toEqual(before);
  });

  test('an unknown client is not found', async () => {
    await expect(running.services.clients.update('nope', { name: 'x' }, ADMIN)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('the changes are merged into what is stored, and metadata no surface sets is kept', async () => {
    const { client_id } = await running.services.clients.create(
      { ...web, post_logout_redirect_uris: ['https://app.example/bye'], scope: 'orders:read' },
      ADMIN,
    );
    const row = await running.db.prisma.client.findUniqueOrThrow({ where: { id: client_id } });
    const stored: Record<string, unknown> = JSON.parse(JSON.stringify(row.metadata));
    await running.db.prisma.client.update({ where: { id: client_id }, data: { metadata: { ...stored, dpop_bound_access_tokens: true } } });
    const updated = await running.services.clients.update(client_id, { name: 'renamed', post_logout_redirect_uris: [] }, ADMIN);
    expect(updated).toMatchObject({ name: 'renamed', scope: 'orders:read', redirect_uris: web.redirect_uris });
    const metadata = await running.services.clients.findProviderMetadata(client_id);
    expect(metadata).toMatchObject({ client_name: 'renamed', allowed_scope: 'orders:read', dpop_bound_access_tokens: true });
    expect(metadata?.post_logout_redirect_uris).toEqual([]);
    expect(metadata).not.toHaveProperty('scope');
  });
});

describe('rotateSecret', () => {
  let clientId: string;
  beforeAll(async () => {
    clientId = (await running.services.clients.create(service, ADMIN)).client_id;
  });

  test.each<[string, string, Record<string, unknown>]>([
    ['a negative grace', 'grace_seconds', { grace_seconds: -1 }],
    ['a grace over 90 days', 'grace_seconds', { grace_seconds: 90 * 86_400 + 1 }],
    ['a fractional grace', 'grace_seconds', { grace_seconds: 1.5 }],
    ['a grace as text', 'grace_seconds', { grace_seconds: 'soon' }],
    ['an unknown field', 'grace', { grace: 60 }],
  ])('%s is refused, naming %s', async (_case, field, input) => {
    const before = await running.db.prisma.client.findUniqueOrThrow({ where: { id: clientId } });
    expect(await refusedField(running.services.clients.rotateSecret(clientId, input, ADMIN))).toBe(field);
    expect((await running.db.prisma.client.findUniqueOrThrow({ where: { id: clientId } })).secretHash).toBe(before.secretHash);
  });

  test('a client without a secret is refused, naming client_id', async () => {
    const { client_id } = await running.services.clients.create(app, ADMIN);
    expect(await refusedField(running.services.clients.rotateSecret(client_id, {}, ADMIN))).toBe('client_id');
  });

  test('without a grace the previous secret works for one day', async () => {
    const rotated = await running.services.clients.rotateSecret(clientId, {}, ADMIN);
    const left = Date.parse(rotated.previous_secret_expires_at) - Date.now();
    expect(left).toBeGreaterThan(86_400_000 - 60_000);
    expect(left).toBeLessThanOrEqual(86_400_000);
  });
});

describe('audit', () => {
  // Events of one millisecond have no order: compared by type.
  const events = async (subject: string) =>
    (
      await running.db.prisma.auditEvent.findMany({ where: { subject }, select: { type: true, actorType: true, actorId: true, ip: true } })
    ).sort((one, other) => one.type.localeCompare(other.type));

  test.each<[string, Actor, { actorType: string; actorId: string | null; ip: string | null }]>([
    ['the CLI', { type: 'admin' }, { actorType: 'admin', actorId: null, ip: null }],
    ['an admin API client, with its address', ADMIN, { actorType: 'admin', actorId: 'admin-client', ip: '203.0.113.9' }],
  ])('each change by %s writes one event with the actor', async (_case, actor, recorded) => {
    const { client_id } = await running.services.clients.create(service, actor);
    await running.services.clients.update(client_id, { name: 'renamed' }, actor);
    await running.services.clients.rotateSecret(client_id, { grace_seconds: 0 }, actor);
    await running.services.clients.delete(client_id, actor);
    expect(await events(client_id)).toEqual(
      ['client.created', 'client.deleted', 'client.secret_rotated', 'client.updated'].map((type) => ({ type, ...recorded })),
    );
  });

  test('a refused change writes nothing', async () => {
    const before = await running.db.prisma.auditEvent.count();
    await refusedField(running.services.clients.create({ ...service, public: true }, ADMIN));
    expect(await running.db.prisma.auditEvent.count()).toBe(before);
  });

  test("a deletion's revocation of the client's keys is Portcullis's own event, one per key", async () => {
    const { client_id } = await running.services.clients.create(service, ADMIN);
    const key = await running.services.apiKeys.create({ name: 'nightly', scope: 'orders:read', owner_client_id: client_id }, ADMIN);
    await running.services.clients.delete(client_id, ADMIN);
    expect(await events(client_id)).toEqual([
      { type: 'client.created', actorType: 'admin', actorId: 'admin-client', ip: '203.0.113.9' },
      { type: 'client.deleted', actorType: 'admin', actorId: 'admin-client', ip: '203.0.113.9' },
    ]);
    expect((await events(key.id)).filter((event) => event.type === 'api_key.revoked')).toEqual([
      { type: 'api_key.revoked', actorType: 'system', actorId: null, ip: null },
    ]);
  });
});
