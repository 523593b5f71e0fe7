// Raw statements on the Prisma client's own driver adapter: parameters are bound, never text
// in the SQL; they work before the client's first query; dates read back as the client wrote them.
import { dateOf, isDatabaseError, migrate, openDatabase, sqlQuery, type Database } from '../../src/db/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let testDatabase: TestDatabase;
let db: Database;
beforeAll(async () => {
  testDatabase = await createTestDatabase();
  await migrate(testDatabase.url);
  db = openDatabase(testDatabase.url);
});
afterAll(async () => {
  await db.close();
  await testDatabase.drop();
});

test('values become placeholders for each database, and only the SQL written here is text', () => {
  const hostile = 'x\'); DROP TABLE "User"; --';
  const parts = ['SELECT * FROM "T" WHERE "a" = ', ' AND "b" = ', ''];
  expect(sqlQuery('sqlite', parts, [hostile, 2])).toEqual({
    sql: 'SELECT * FROM "T" WHERE "a" = ? AND "b" = ?',
    args: [hostile, 2],
    argTypes: [
      { scalarType: 'string', arity: 'scalar' },
      { scalarType: 'int', arity: 'scalar' },
    ],
  });
  expect(sqlQuery('postgres', parts, [hostile, 2]).sql).toBe('SELECT * FROM "T" WHERE "a" = $1 AND "b" = $2');
});

test('a statement may come before any client query, and what it writes the client reads', async () => {
  const fresh = openDatabase(testDatabase.url);
  try {
    const payload = 'it\'s {"quoted"}; DROP TABLE "ProviderArtifact"';
    const expiresAt = new Date(Date.now() + 60_000);
    const written = await fresh.statements.execute`
      INSERT INTO "ProviderArtifact" ("kind", "idHash", "payload", "expiresAt", "createdAt")
      VALUES (${'Test'}, ${'statement-1'}, ${payload}, ${expiresAt}, ${new Date()})`;
    expect(written).toBe(1);
    const row = await fresh.prisma.providerArtifact.findUnique({ where: { kind_idHash: { kind: 'Test', idHash: 'statement-1' } } });
    expect(row).toMatchObject({ payload, expiresAt });
    // And back: what the client wrote, statements read, dates included.
    await fresh.prisma.providerArtifact.update({
      where: { kind_idHash: { kind: 'Test', idHash: 'statement-1' } },
      data: { consumedAt: expiresAt },
    });
    const [read] = await fresh.statements.query<{ payload: string; consumedAt: unknown }>`
      SELECT "payload", "consumedAt" FROM "ProviderArtifact" WHERE "kind" = ${'Test'} AND "idHash" = ${'statement-1'}`;
    expect(read!.payload).toBe(payload);
    expect(dateOf(read!.consumedAt)).toEqual(expiresAt);
    expect(await fresh.statements.execute`DELETE FROM "ProviderArtifact" WHERE "kind" = ${'Test'}`).toBe(1);
  } finally {
    await fresh.close();
  }
});

test('dates are read from ISO 8601 text or epoch milliseconds, and null stays null', () => {
  const when = new Date('2026-12-01T13:38:49.501Z');
  expect(dateOf('2026-12-01T13:38:49.501+00:00')).toEqual(when);
  expect(dateOf(when.getTime())).toEqual(when);
  expect(dateOf(BigInt(when.getTime()))).toEqual(when);
  expect(dateOf(null)).toBeNull();
});

test('a statement run again binds its new values: it is prepared once per connection, its values never kept', async () => {
  const insert = (idHash: string, payload: string) => db.statements.execute`
    INSERT INTO "ProviderArtifact" ("kind", "idHash", "payload", "createdAt") VALUES (${'Reuse'}, ${idHash}, ${payload}, ${new Date()})`;
  const read = (idHash: string) => db.statements.query<{ payload: string }>`
    SELECT "payload" FROM "ProviderArtifact" WHERE "kind" = ${'Reuse'} AND "idHash" = ${idHash}`;
  try {
    expect(await insert('reuse-1', 'first')).toBe(1);
    expect(await insert('reuse-2', 'second')).toBe(1);
    expect(await read('reuse-1')).toEqual([{ payload: 'first' }]);
    expect(await read('reuse-2')).toEqual([{ payload: 'second' }]);
    expect(await read('reuse-3')).toEqual([]);
    // A statement that breaks a constraint fails as a database error and leaves the next run unharmed.
    const failure = await insert('reuse-1', 'again').catch((error: unknown) => error);
    expect(isDatabaseError(failure)).toBe(true);
    expect(await read('reuse-1')).toEqual([{ payload: 'first' }]);
  } finally {
    await db.statements.execute`DELETE FROM "ProviderArtifact" WHERE "kind" = ${'Reuse'}`;
  }
});
