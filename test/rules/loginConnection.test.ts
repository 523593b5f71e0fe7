// A client's login_connection (the one connection people sign in to it through) from the client
// service's rules to oidc-provider's Client: stored only when set, changed and cleared (null) by
// an update, kept through changes of other settings and through a registered client's own
// replacement (RFC 7592: an administrator's setting), never set by a registration, refused with
// its field when it is not a connection's name, and read by portcullisClient as `loginConnection`.
import Provider from 'oidc-provider';
import type { Actor } from '../../src/audit/index.ts';
import { clientDefinition, registrationRequest } from '../../src/clients/index.ts';
import { PORTCULLIS_METADATA, portcullisClient } from '../../src/oidc/clientMetadata.ts';
import { eventsOf, refusedField, startServices, type TestServices } from '../support/services.ts';

const ADMIN: Actor = { type: 'admin', id: 'admin-client' };
const web = { name: 'web', grant_types: ['authorization_code' as const], redirect_uris: ['https://app.example.com/cb'] };

let running: TestServices;
// The Provider made below only reads a Client (no adapter, no keys): its development warnings are about nothing used here.
const warn = console.warn;
beforeAll(async () => {
  running = await startServices();
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).startsWith('oidc-provider WARNING')) warn(...args);
  };
});
afterAll(async () => {
  console.warn = warn;
  await running.stop();
});

const clients = () => running.services.clients;

/** oidc-provider's Client for the stored client, made from what the client service hands it. */
async function providerClient(clientId: string) {
  const metadata = await clients().findProviderMetadata(clientId);
  const provider = new Provider('http://127.0.0.1:3000', {
    extraClientMetadata: { properties: [...PORTCULLIS_METADATA] },
    clients: [metadata!],
  });
  return (await provider.Client.find(clientId))!;
}

test('none by default: not stored, null in the summary, undefined for oidc-provider', async () => {
  const { client_id } = await clients().create(web, ADMIN);
  expect(await clients().findProviderMetadata(client_id)).not.toHaveProperty('login_connection');
  expect((await clients().get(client_id)).login_connection).toBeNull();
  expect(portcullisClient(await providerClient(client_id)).loginConnection).toBeUndefined();
});

test('set at creation: stored, in the summary, the list and the definition, and read as loginConnection', async () => {
  const { client_id } = await clients().create({ ...web, login_connection: 'acme-sso' }, ADMIN);
  expect((await clients().findProviderMetadata(client_id))?.login_connection).toBe('acme-sso');
  expect((await clients().get(client_id)).login_connection).toBe('acme-sso');
  expect((await clients().list()).find((client) => client.client_id === client_id)?.login_connection).toBe('acme-sso');
  expect((await clients().definitions()).find((client) => client.client_id === client_id)?.login_connection).toBe('acme-sso');
  expect(portcullisClient(await providerClient(client_id)).loginConnection).toBe('acme-sso');
});

test('a connection that does not exist (yet) is accepted: only its syntax is the client service’s rule', async () => {
  expect(await running.services.federation.connections.list()).toEqual([]);
  const { client_id } = await clients().create({ ...web, login_connection: 'made-later' }, ADMIN);
  expect((await clients().get(client_id)).login_connection).toBe('made-later');
});

test('update sets another, keeps it through a change of another field, and null clears it; each one audit event naming it', async () => {
  const { client_id } = await clients().create({ ...web, login_connection: 'acme-sso' }, ADMIN);
  const events = await eventsOf(running, async () => {
    expect((await clients().update(client_id, { login_connection: 'github' }, ADMIN)).login_connection).toBe('github');
    expect((await clients().update(client_id, { name: 'renamed' }, ADMIN)).login_connection).toBe('github');
    expect(portcullisClient(await providerClient(client_id)).loginConnection).toBe('github');
    expect((await clients().update(client_id, { login_connection: null }, ADMIN)).login_connection).toBeNull();
  });
  expect(events.map((event) => [event.type, (event.details as { fields?: string[] } | null)?.fields])).toEqual([
    ['client.updated', ['login_connection']],
    ['client.updated', ['name']],
    ['client.updated', ['login_connection']],
  ]);
  expect(await clients().findProviderMetadata(client_id)).not.toHaveProperty('login_connection');
  expect(portcullisClient(await providerClient(client_id)).loginConnection).toBeUndefined();
});

test('replace (configuration as code) sets and clears it, and writes nothing when it already matches', async () => {
  const { client_id } = await clients().create(web, ADMIN);
  await clients().replace(client_id, { ...web, login_connection: 'acme-sso' }, ADMIN);
  expect((await clients().get(client_id)).login_connection).toBe('acme-sso');
  const same = await eventsOf(running, () => clients().replace(client_id, { ...web, login_connection: 'acme-sso' }, ADMIN));
  expect(same).toEqual([]);
  await clients().replace(client_id, web, ADMIN);
  expect((await clients().get(client_id)).login_connection).toBeNull();
});

test('a registration cannot set it, and a registered client’s own replacement (RFC 7592) keeps the administrator’s', async () => {
  const { input } = registrationRequest({ ...web, client_name: 'self', login_connection: 'acme-sso' }, 'self-registered');
  expect(input).not.toHaveProperty('login_connection');

  const { client_id } = await clients().create(web, ADMIN);
  await running.db.prisma.client.update({ where: { id: client_id }, data: { registered: true } });
  await clients().update(client_id, { login_connection: 'acme-sso' }, ADMIN);
  const self: Actor = { type: 'client', id: client_id };
  await clients().updateRegistered(client_id, { ...web, name: 'renamed by itself' }, new Set(['openid']), self);
  expect(await clients().get(client_id)).toMatchObject({ name: 'renamed by itself', login_connection: 'acme-sso' });
  await clients().updateRegistered(client_id, { ...web, login_connection: null }, new Set(['openid']), self);
  expect((await clients().get(client_id)).login_connection).toBe('acme-sso');
});

test('the definition leaves it out when none, so a file without it compares equal', () => {
  expect(clientDefinition('c1', web)).not.toHaveProperty('login_connection');
  expect(clientDefinition('c1', { ...web, login_connection: null })).not.toHaveProperty('login_connection');
  expect(clientDefinition('c1', { ...web, login_connection: 'acme-sso' }).login_connection).toBe('acme-sso');
});

test.each([['Acme'], ['-acme'], ['acme sso'], [''], ['a'.repeat(64)], [7], [true]])(
  'a value that is not a connection name (%j) is refused naming login_connection, at creation and in an update',
  async (value) => {
    expect(await refusedField(clients().create({ ...web, login_connection: value as never }, ADMIN))).toBe('login_connection');
    const { client_id } = await clients().create({ ...web, login_connection: 'acme-sso' }, ADMIN);
    expect(await refusedField(clients().update(client_id, { login_connection: value as never }, ADMIN))).toBe('login_connection');
    expect((await clients().get(client_id)).login_connection).toBe('acme-sso');
  },
);
