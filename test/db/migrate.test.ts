// Migrations: applied once, in order, safely when two processes start together, and a
// tampered history is refused.
import { configureConnection, listMigrations, migrate, MigrationError, openDatabase } from '../../src/db/index.ts';
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

test('a database from a newer version (unknown migration) is refused', async () => {
  await migrate(testDatabase.url);
  const db = openDatabase(testDatabase.url);
  try {
    await db.prisma.$executeRawUnsafe(
      `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ('x', 'y', CURRENT_TIMESTAMP, '29991231000000_future', CURRENT_TIMESTAMP, 1)`,
    );
  } finally {
    await db.close();
  }
  await expect(migrate(testDatabase.url)).rejects.toThrow(/does not know/);
});

test("a server's SQLite connection syncs as configured: normal by default, full when asked", async () => {
  await migrate(testDatabase.url);
  const db = openDatabase(testDatabase.url);
  try {
    const synchronous = async () =>
      Number(((await db.prisma.$queryRawUnsafe('PRAGMA synchronous')) as { synchronous: bigint }[])[0]!.synchronous);
    if (db.provider !== 'sqlite') {
      // PostgreSQL keeps its server's settings; there is nothing to apply.
      await expect(configureConnection(db, { sqliteSynchronous: 'normal' })).resolves.toBeUndefined();
      return;
    }
    await configureConnection(db, { sqliteSynchronous: 'normal' });
    expect(await synchronous()).toBe(1);
    await configureConnection(db, { sqliteSynchronous: 'full' });
    expect(await synchronous()).toBe(2);
  } finally {
    await db.close();
  }
});
