// A client's require_mfa from the client service's rules to oidc-provider's Client: stored only
// when on, kept through changes of other settings (and through an RFC 7592 replacement, which is
// the client's own and may not drop an administrator's setting), and read by portcullisClient
// as the boolean `requireMfa` that the sign-in's policy asks.
import Provider from 'oidc-provider';
import type { Actor } from '../../src/audit/index.ts';
import { clientDefinition } from '../../src/clients/index.ts';
import { PORTCULLIS_METADATA, portcullisClient } from '../../src/oidc/clientMetadata.ts';
import { startServices, type TestServices } from '../support/services.ts';

const ADMIN: Actor = { type: 'admin', id: 'admin-client' };
const web = { name: 'web', grant_types: ['authorization_code' as const], redirect_uris: ['https://app.example.com/cb'] };

let running: TestServices;
// The Provider made below is only a reader of a Client (no adapter, no keys, no interactions of
// its own): its warnings about a development setup are about nothing these tests use.
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

/** oidc-provider's Client for the stored client, made from what the client service hands it. */
async function providerClient(clientId: string) {
  const metadata = await running.services.clients.findProviderMetadata(clientId);
  const provider = new Provider('http://127.0.0.1:3000', {
    extraClientMetadata: { properties: [...PORTCULLIS_METADATA] },
    clients: [metadata!],
  });
  return (await provider.Client.find(clientId))!;
}

test('off by default; portcullisClient reads false', async () => {
  const { client_id } = await running.services.clients.create(web, ADMIN);
  expect(await running.services.clients.findProviderMetadata(client_id)).not.toHaveProperty('require_mfa');
  expect(portcullisClient(await providerClient(client_id)).requireMfa).toBe(false);
  expect((await running.services.clients.get(client_id)).require_mfa).toBe(false);
});

test('on at creation: stored, in the summary and the definition, and requireMfa is true', async () => {
  const { client_id } = await running.services.clients.create({ ...web, require_mfa: true }, ADMIN);
  expect(portcullisClient(await providerClient(client_id)).requireMfa).toBe(true);
  expect((await running.services.clients.get(client_id)).require_mfa).toBe(true);
  const definition = (await running.services.clients.definitions()).find((client) => client.client_id === client_id);
  expect(definition?.require_mfa).toBe(true);
});

test('update turns it on and off; a change of another field keeps it', async () => {
  const { client_id } = await running.services.clients.create(web, ADMIN);
  await running.services.clients.update(client_id, { require_mfa: true }, ADMIN);
  await running.services.clients.update(client_id, { scope: 'openid' }, ADMIN);
  expect(portcullisClient(await providerClient(client_id)).requireMfa).toBe(true);
  await running.services.clients.update(client_id, { require_mfa: false }, ADMIN);
  expect(await running.services.clients.findProviderMetadata(client_id)).not.toHaveProperty('require_mfa');
  expect(portcullisClient(await providerClient(client_id)).requireMfa).toBe(false);
});

test('replace (configuration as code) sets and clears it, and changes nothing when it already matches', async () => {
  const { client_id } = await running.services.clients.create(web, ADMIN);
  await running.services.clients.replace(client_id, { ...web, require_mfa: true }, ADMIN);
  expect((await running.services.clients.get(client_id)).require_mfa).toBe(true);
  const before = await running.db.prisma.auditEvent.count();
  await running.services.clients.replace(client_id, { ...web, require_mfa: true }, ADMIN);
  expect(await running.db.prisma.auditEvent.count()).toBe(before);
  await running.services.clients.replace(client_id, web, ADMIN);
  expect((await running.services.clients.get(client_id)).require_mfa).toBe(false);
});

test("a registered client's own replacement (RFC 7592) keeps the administrator's require_mfa", async () => {
  const { client_id } = await running.services.clients.create(web, ADMIN);
  await running.db.prisma.client.update({ where: { id: client_id }, data: { registered: true } });
  await running.services.clients.update(client_id, { require_mfa: true }, ADMIN);
  await running.services.clients.updateRegistered(client_id, { ...web, name: 'renamed by itself' }, new Set(['openid']), {
    type: 'client',
    id: client_id,
  });
  expect(await running.services.clients.get(client_id)).toMatchObject({ name: 'renamed by itself', require_mfa: true });
});

test('the definition leaves it out when off, so a file without it compares equal', () => {
  expect(clientDefinition('c1', web)).not.toHaveProperty('require_mfa');
  expect(clientDefinition('c1', { ...web, require_mfa: true }).require_mfa).toBe(true);
});

test.each([['yes'], [1], [null]])('a non-boolean %j is refused naming require_mfa', async (value) => {
  await expect(running.services.clients.create({ ...web, require_mfa: value as never }, ADMIN)).rejects.toMatchObject({
    field: 'require_mfa',
  });
});
