// The grant service's rules, on a fresh database without HTTP: the filter is parsed in the wire's
// names, and each revocation writes one audit event with its actor.
import crypto from 'node:crypto';
import { artifactIdHash } from '../../src/artifacts/index.ts';
import type { Actor } from '../../src/audit/index.ts';
import type { GrantFilter } from '../../src/grants/index.ts';
import { refusedField, startServices, type TestServices } from '../support/services.ts';

const ADMIN: Actor = { type: 'admin', id: 'admin-client', ip: '203.0.113.9' };

let running: TestServices;

beforeAll(async () => {
  running = await startServices();
});
afterAll(() => running.stop());

/** A grant as oidc-provider stores it through the adapter (readable), and a token issued from it. */
async function grant(accountId: string, clientId: string): Promise<string> {
  const id = crypto.randomUUID();
  const { prisma } = running.db;
  const expiresAt = new Date(Date.now() + 3_600_000);
  await prisma.providerArtifact.create({
    data: {
      kind: 'Grant',
      idHash: artifactIdHash(running.config.hashPepper, id),
      payload: JSON.stringify({ jti: id, kind: 'Grant', accountId, clientId, openid: { scope: 'openid  email' } }),
      accountId,
      clientId,
      expiresAt,
    },
  });
  await prisma.providerArtifact.create({
    data: { kind: 'AccessToken', idHash: crypto.randomUUID(), payload: 'sealed', grantId: id, accountId, clientId, expiresAt },
  });
  return id;
}

const tokensOf = (grantId: string) => running.db.prisma.providerArtifact.count({ where: { grantId } });
const revocations = (since: Date) =>
  running.db.prisma.auditEvent.findMany({
    where: { type: 'consent.revoked', at: { gte: since } },
    select: { actorType: true, actorId: true, ip: true, subject: true, details: true },
  });

const badFilters: [string, string, Record<string, unknown>][] = [
  ['an account id with a control character', 'account_id', { account_id: 'a\u0000b' }],
  ['an account id over 200 characters', 'account_id', { account_id: 'x'.repeat(201) }],
  ['an account id that is not text', 'account_id', { account_id: 5 }],
  ['a client id with a control character', 'client_id', { client_id: 'c\u0007' }],
  ['an internal field name', 'accountId', { accountId: 'someone' }],
];

test.each(badFilters)('list: %s is refused, naming %s', async (_case, field, filter) => {
  expect(await refusedField(running.services.grants.list(filter))).toBe(field);
});

test.each<[string, string, Record<string, unknown>]>([...badFilters, ['no filter at all', 'account_id', {}]])(
  'revokeWhere: %s is refused, naming %s, and nothing is revoked',
  async (_case, field, filter) => {
    const id = await grant('refused-account', 'refused-client');
    expect(await refusedField(running.services.grants.revokeWhere(filter, ADMIN))).toBe(field);
    expect(await tokensOf(id)).toBe(1);
  },
);

test.each<[string, GrantFilter, string[]]>([
  ['by account', { account_id: 'ada' }, ['ada/one', 'ada/two']],
  ['by client', { client_id: 'one' }, ['ada/one', 'bob/one']],
  ['by both', { account_id: 'bob', client_id: 'one' }, ['bob/one']],
])('list %s finds those grants, in wire names', async (_case, filter, expected) => {
  const { prisma } = running.db;
  await prisma.providerArtifact.deleteMany({ where: { accountId: { in: ['ada', 'bob'] } } });
  for (const [account, client] of [
    ['ada', 'one'],
    ['ada', 'two'],
    ['bob', 'one'],
  ] as const)
    await grant(account, client);
  const listed = await running.services.grants.list(filter);
  expect(listed.map((summary) => `${summary.account_id}/${summary.client_id}`).sort()).toEqual(expected);
  expect(listed[0]).toMatchObject({ scope: 'openid email', resources: {} });
});

test('revokeWhere revokes each grant with what was issued from it, one event each with the actor', async () => {
  const since = new Date();
  const ids = [await grant('carol', 'app'), await grant('dave', 'app')];
  const kept = await grant('carol', 'other');
  expect(await running.services.grants.revokeWhere({ client_id: 'app' }, ADMIN)).toBe(2);
  for (const id of ids) expect(await tokensOf(id)).toBe(0);
  expect(await tokensOf(kept)).toBe(1);
  expect(await running.services.grants.list({ client_id: 'app' })).toEqual([]);
  const events = await revocations(since);
  const recorded = { actorType: 'admin', actorId: 'admin-client', ip: '203.0.113.9', subject: 'app' };
  expect(events).toHaveLength(2);
  expect(events).toEqual(
    expect.arrayContaining([
      { ...recorded, details: { account_id: 'carol' } },
      { ...recorded, details: { account_id: 'dave' } },
    ]),
  );
});

test("revokeClient ends one person's grants to one client, as that person", async () => {
  const since = new Date();
  const mine = await grant('erin', 'reader');
  const otherClient = await grant('erin', 'writer');
  const otherPerson = await grant('frank', 'reader');
  const person: Actor = { type: 'user', id: 'erin', ip: '198.51.100.4' };
  expect(await running.services.grants.revokeClient('erin', 'reader', person)).toBe(1);
  expect([await tokensOf(mine), await tokensOf(otherClient), await tokensOf(otherPerson)]).toEqual([0, 1, 1]);
  expect((await running.services.grants.listForAccount('erin')).map((summary) => summary.client_id)).toEqual(['writer']);
  expect(await revocations(since)).toEqual([
    { actorType: 'user', actorId: 'erin', ip: '198.51.100.4', subject: 'reader', details: { account_id: 'erin' } },
  ]);
});
