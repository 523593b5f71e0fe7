// Migrations: applied once, in order, safely when two processes start together, and a
// tampered history is refused.
import { listMigrations, migrate, MigrationError, openDatabase, type Database } from '../../src/db/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let testDatabase: TestDatabase;
beforeEach(async () => {
  testDatabase = await createTestDatabase();
});
afterEach(() => testDatabase.drop());

test('a fresh database gets every migration, and a second run applies none', async () => {
  const all = listMigrations(testDatabase.provider).map((m) => m.name);
  expect(all.length).toBeGreaterThan(0);
  const first = await migrate(testDatabase.url);
  expect(first.applied).toEqual(all);
  const second = await migrate(testDatabase.url);
  expect(second).toMatchObject({ applied: [], alreadyApplied: all });

  const db = openDatabase(testDatabase.url);
  try {
    expect(await db.prisma.client.count()).toBe(0);
    expect(await db.prisma.providerArtifact.count()).toBe(0);
  } finally {
    await db.close();
  }
});

test('two migrations started together apply each migration exactly once', async () => {
  const results = await Promise.all([migrate(testDatabase.url), migrate(testDatabase.url)]);
  const applied = results.flatMap((result) => result.applied);
  expect(applied.sort()).toEqual(
    listMigrations(testDatabase.provider)
      .map((m) => m.name)
      .sort(),
  );
});

test('a migration changed after it was applied is refused', async () => {
  await migrate(testDatabase.url);
  const db = openDatabase(testDatabase.url);
  try {
    await db.prisma.$executeRawUnsafe(`UPDATE "_prisma_migrations" SET checksum = 'tampered'`);
  } finally {
    await db.close();
  }
  await expect(migrate(testDatabase.url)).rejects.toThrow(MigrationError);
  await expect(migrate(testDatabase.url)).rejects.toThrow(/changed after it was applied/);
});

/** Records a migration as applied, as another version of Portcullis would have. */
async function recordApplied(name: string) {
  const db = openDatabase(testDatabase.url);
  try {
    await db.prisma.$executeRawUnsafe(
      `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ('${name}', 'y', CURRENT_TIMESTAMP, '${name}', CURRENT_TIMESTAMP, 1)`,
    );
  } finally {
    await db.close();
  }
}

test('a database a newer version has migrated (a rolling upgrade) is served, and says so', async () => {
  await migrate(testDatabase.url);
  await recordApplied('29991231000000_future');
  await recordApplied('29991231000001_further');
  const result = await migrate(testDatabase.url);
  expect(result).toMatchObject({ applied: [], ahead: ['29991231000000_future', '29991231000001_further'] });
});

test('an unknown migration among known ones (histories that differ) is refused', async () => {
  await migrate(testDatabase.url);
  const [first] = listMigrations(testDatabase.provider).map((m) => m.name);
  await recordApplied(`${first!.slice(0, 14)}_elsewhere`);
  await expect(migrate(testDatabase.url)).rejects.toThrow(/does not know, among migrations it does/);
});

test('newer migrations applied while one of this version is missing is refused', async () => {
  await migrate(testDatabase.url);
  const newest = listMigrations(testDatabase.provider).at(-1)!.name;
  const db = openDatabase(testDatabase.url);
  try {
    await db.prisma.$executeRawUnsafe(`DELETE FROM "_prisma_migrations" WHERE migration_name = '${newest}'`);
  } finally {
    await db.close();
  }
  await recordApplied('29991231000000_future');
  await expect(migrate(testDatabase.url)).rejects.toThrow(/has newer migrations \(29991231000000_future\) but not /);
});

test('every SQLite connection syncs as configured, after a reconnect too', async () => {
  await migrate(testDatabase.url);
  const synchronous = async (db: Database) =>
    Number(((await db.prisma.$queryRawUnsafe('PRAGMA synchronous')) as { synchronous: bigint }[])[0]!.synchronous);
  const full = openDatabase(testDatabase.url, { sqliteSynchronous: 'full' });
  const normal = openDatabase(testDatabase.url, { sqliteSynchronous: 'normal' });
  try {
    if (full.provider !== 'sqlite') return; // PostgreSQL keeps its server's settings
    expect(await synchronous(full)).toBe(2);
    // A statement may be the first thing a connection runs; it gets the setting too.
    await full.prisma.$disconnect();
    await full.statements.query`SELECT 1 AS "one"`;
    expect(await synchronous(full)).toBe(2);
    // `normal` is applied, not merely the default: set FULL by hand, reconnect, and it is back.
    await normal.prisma.$queryRawUnsafe('PRAGMA synchronous = FULL');
    expect(await synchronous(normal)).toBe(2);
    await normal.prisma.$disconnect();
    expect(await synchronous(normal)).toBe(1);
  } finally {
    await full.close();
    await normal.close();
  }
});
