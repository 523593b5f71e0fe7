// The Prisma adapter against a real database: every method, expiry, purge, atomic consume,
// and nothing usable at rest.
import { errors } from 'oidc-provider';
import { migrate, openDatabase, type Database } from '../../src/db/index.ts';
import { createAdapterFactory, purgeExpiredArtifacts } from '../../src/artifacts/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { testPepper } from '../support/server.ts';

let testDatabase: TestDatabase;
let db: Database;
let adapterFor: ReturnType<typeof createAdapterFactory>;

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  await migrate(testDatabase.url);
  db = openDatabase(testDatabase.url);
  adapterFor = createAdapterFactory({
    statements: db.statements,
    pepper: testPepper,
    findClient: async (id) => (id === 'known' ? { client_id: 'known' } : undefined),
  });
});
afterAll(async () => {
  await db.close();
  await testDatabase.drop();
});

const randomId = () => crypto.randomUUID().replaceAll('-', '') + crypto.randomUUID().replaceAll('-', '');
const now = () => Math.floor(Date.now() / 1000);

test('upsert then find returns the payload with its jti', async () => {
  const adapter = adapterFor('AccessToken');
  const id = randomId();
  const payload = {
    jti: id,
    kind: 'AccessToken',
    clientId: 'c1',
    accountId: 'u1',
    grantId: 'g1',
    scope: 'openid',
    iat: now(),
    exp: now() + 60,
  };
  await adapter.upsert(id, payload, 60);
  expect(await adapter.find(id)).toEqual(payload);
  expect(await adapter.find(randomId())).toBeUndefined();
  expect(await adapterFor('RefreshToken').find(id)).toBeUndefined();
});

test('upsert replaces an existing artifact', async () => {
  const adapter = adapterFor('Session');
  const id = randomId();
  await adapter.upsert(id, { jti: id, uid: 'uid-1', accountId: 'a' }, 60);
  await adapter.upsert(id, { jti: id, uid: 'uid-1', accountId: 'b' }, 60);
  expect(await adapter.find(id)).toMatchObject({ accountId: 'b' });
});

test('an expired artifact is not found, and purge deletes only expired rows', async () => {
  const adapter = adapterFor('AuthorizationCode');
  const expired = randomId();
  const live = randomId();
  const forever = randomId();
  await adapter.upsert(expired, { jti: expired }, 60);
  await adapter.upsert(live, { jti: live }, 600);
  await adapter.upsert(forever, { jti: forever });
  await db.prisma.providerArtifact.updateMany({
    where: { kind: 'AuthorizationCode', expiresAt: { lt: new Date(Date.now() + 120_000) } },
    data: { expiresAt: new Date(Date.now() - 1000) },
  });
  expect(await adapter.find(expired)).toBeUndefined();
  expect(await adapter.find(live)).toBeDefined();

  expect(await purgeExpiredArtifacts(db.prisma)).toBeGreaterThanOrEqual(1);
  expect(await db.prisma.providerArtifact.count({ where: { expiresAt: { lt: new Date() } } })).toBe(0);
  expect(await adapter.find(live)).toBeDefined();
  expect(await adapter.find(forever)).toBeDefined();
});

test('findByUid finds a session by its uid, and nothing by a wrong one', async () => {
  const adapter = adapterFor('Session');
  const id = randomId();
  await adapter.upsert(id, { jti: id, uid: 'session-uid-42', accountId: 'user-9' }, 60);
  expect(await adapter.findByUid('session-uid-42')).toMatchObject({ jti: id, uid: 'session-uid-42', accountId: 'user-9' });
  expect(await adapter.findByUid('session-uid-43')).toBeUndefined();
});

test('findByUserCode finds a device code by its user code', async () => {
  const adapter = adapterFor('DeviceCode');
  const id = randomId();
  await adapter.upsert(id, { jti: id, userCode: 'BCDF-GHJK', clientId: 'c' }, 60);
  expect(await adapter.findByUserCode('BCDF-GHJK')).toMatchObject({ jti: id, clientId: 'c' });
  expect(await adapter.findByUserCode('BCDF-GHJL')).toBeUndefined();
});

test('consume marks the artifact consumed', async () => {
  const adapter = adapterFor('RefreshToken');
  const id = randomId();
  await adapter.upsert(id, { jti: id, grantId: 'g' }, 60);
  await adapter.consume(id);
  const found = await adapter.find(id);
  expect(typeof found?.consumed).toBe('number');
  await expect(adapter.consume(id)).rejects.toBeInstanceOf(errors.InvalidGrant);
});

test('of many concurrent consumers exactly one wins', async () => {
  const adapter = adapterFor('AuthorizationCode');
  const id = randomId();
  await adapter.upsert(id, { jti: id }, 60);
  const results = await Promise.allSettled(Array.from({ length: 12 }, () => adapter.consume(id)));
  expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
  for (const result of results.filter((r) => r.status === 'rejected')) {
    expect((result as PromiseRejectedResult).reason).toBeInstanceOf(errors.InvalidGrant);
  }
});

test('finds of one id as several kinds in the same tick each get their own kind', async () => {
  // The shape of an opaque-token introspection: one value looked up as three kinds at once.
  const id = randomId();
  await adapterFor('AccessToken').upsert(id, { jti: id, kind: 'AccessToken', scope: 'a' }, 60);
  await adapterFor('RefreshToken').upsert(id, { jti: id, kind: 'RefreshToken', scope: 'r' }, 60);
  const [access, credentials, refresh, other] = await Promise.all([
    adapterFor('AccessToken').find(id),
    adapterFor('ClientCredentials').find(id),
    adapterFor('RefreshToken').find(id),
    adapterFor('AccessToken').find(randomId()),
  ]);
  expect(access).toMatchObject({ kind: 'AccessToken', scope: 'a' });
  expect(credentials).toBeUndefined();
  expect(refresh).toMatchObject({ kind: 'RefreshToken', scope: 'r' });
  expect(other).toBeUndefined();

  // And they were one SELECT, where finds of different ids, or in different ticks, are one each.
  let selects = 0;
  const counting = createAdapterFactory({
    statements: { ...db.statements, query: (...args: Parameters<typeof db.statements.query>) => (selects++, db.statements.query(...args)) },
    pepper: testPepper,
    findClient: async () => undefined,
  });
  await Promise.all(['AccessToken', 'ClientCredentials', 'RefreshToken'].map((kind) => counting(kind).find(id)));
  expect(selects).toBe(1);
  await Promise.all([counting('AccessToken').find(id), counting('AccessToken').find(randomId())]);
  expect(selects).toBe(3);
  await counting('RefreshToken').find(id);
  expect(selects).toBe(4);
});

test('saving a consumed artifact again keeps it consumed', async () => {
  // oidc-provider saves a refresh token after consuming it (a rotation); the save must not undo the consumption.
  const adapter = adapterFor('RefreshToken');
  const id = randomId();
  await adapter.upsert(id, { jti: id, kind: 'RefreshToken' }, 60);
  await adapter.consume(id);
  await adapter.upsert(id, { jti: id, kind: 'RefreshToken', scope: 'changed' }, 60);
  expect(await adapter.find(id)).toMatchObject({ scope: 'changed', consumed: expect.any(Number) });
  await expect(adapter.consume(id)).rejects.toBeInstanceOf(errors.InvalidGrant);
});

test('destroy removes one artifact', async () => {
  const adapter = adapterFor('AccessToken');
  const [a, b] = [randomId(), randomId()];
  await adapter.upsert(a, { jti: a }, 60);
  await adapter.upsert(b, { jti: b }, 60);
  await adapter.destroy(a);
  expect(await adapter.find(a)).toBeUndefined();
  expect(await adapter.find(b)).toBeDefined();
});

test("revokeByGrantId removes that grant's artifacts of that model only", async () => {
  const tokens = adapterFor('AccessToken');
  const refresh = adapterFor('RefreshToken');
  const [t1, t2, other, r1] = [randomId(), randomId(), randomId(), randomId()];
  await tokens.upsert(t1, { jti: t1, grantId: 'grant-x' }, 60);
  await tokens.upsert(t2, { jti: t2, grantId: 'grant-x' }, 60);
  await tokens.upsert(other, { jti: other, grantId: 'grant-y' }, 60);
  await refresh.upsert(r1, { jti: r1, grantId: 'grant-x' }, 60);
  await tokens.revokeByGrantId('grant-x');
  expect(await tokens.find(t1)).toBeUndefined();
  expect(await tokens.find(t2)).toBeUndefined();
  expect(await tokens.find(other)).toBeDefined();
  expect(await refresh.find(r1)).toBeDefined();
});

test('the Client model is served from the client store and is read-only', async () => {
  const adapter = adapterFor('Client');
  expect(await adapter.find('known')).toEqual({ client_id: 'known' });
  expect(await adapter.find('unknown')).toBeUndefined();
  await expect(adapter.upsert('x', {}, 1)).rejects.toThrow(/managed/);
});

test('no id, uid, user code or session cookie is stored in usable form', async () => {
  const sessionId = randomId();
  const interactionId = randomId();
  const codeId = randomId();
  await adapterFor('Session').upsert(sessionId, { jti: sessionId, uid: 'uid-secret-value-1', accountId: 'acct' }, 60);
  await adapterFor('Interaction').upsert(
    interactionId,
    { jti: interactionId, session: { cookie: sessionId, uid: 'uid-secret-value-1' }, returnTo: `/auth/${interactionId}` },
    60,
  );
  await adapterFor('DeviceCode').upsert(codeId, { jti: codeId, userCode: 'WXYZ-MNPQ' }, 60);
  const dump = JSON.stringify(await db.prisma.providerArtifact.findMany());
  for (const secret of [sessionId, interactionId, codeId, 'uid-secret-value-1', 'WXYZ-MNPQ']) {
    expect(dump).not.toContain(secret);
  }
  // ...yet all of it comes back to whoever holds the id.
  expect(await adapterFor('Interaction').find(interactionId)).toMatchObject({ session: { cookie: sessionId } });
});

test('a grant is stored readable, id included (it holds no bearer value, and listing grants needs it)', async () => {
  const id = randomId();
  await adapterFor('Grant').upsert(id, { jti: id, accountId: 'acct-7', clientId: 'client-7', openid: { scope: 'openid email' } }, 60);
  const row = await db.prisma.providerArtifact.findFirstOrThrow({ where: { kind: 'Grant', accountId: 'acct-7' } });
  expect(JSON.parse(row.payload)).toEqual({ jti: id, accountId: 'acct-7', clientId: 'client-7', openid: { scope: 'openid email' } });
  expect(row.clientId).toBe('client-7');
  expect(await adapterFor('Grant').find(id)).toMatchObject({ jti: id, accountId: 'acct-7' });
});

test('the indexes the adapter relies on exist', async () => {
  const names =
    db.provider === 'sqlite'
      ? (
          await db.prisma.$queryRawUnsafe<{ name: string }[]>(
            `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ProviderArtifact'`,
          )
        ).map((r) => r.name)
      : (
          await db.prisma.$queryRawUnsafe<{ indexname: string }[]>(
            `SELECT indexname::text AS indexname FROM pg_indexes WHERE tablename = 'ProviderArtifact'`,
          )
        ).map((r) => r.indexname);
  for (const index of ['grantId', 'kind_uidHash', 'kind_userCodeHash', 'expiresAt']) {
    expect(names).toContain(`ProviderArtifact_${index}_idx`);
  }
});
