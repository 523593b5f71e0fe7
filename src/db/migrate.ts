// Applies the SQL migrations in prisma/<provider>/migrations, in order, each once.
//
// Written here rather than calling `prisma migrate deploy` because on the driver-adapter
// path Prisma's CLI runs a WebAssembly engine that takes seconds to start and lingers after
// it is done, and its PostgreSQL adapter splits scripts on ";". The bookkeeping table is
// Prisma's own `_prisma_migrations` (same columns, same sha256 checksums), so `prisma migrate
// status` keeps working against a database migrated by Portcullis.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { databaseProvider, sqlitePath } from './database.ts';
import type { DatabaseProvider } from './statements.ts';

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  provider: DatabaseProvider;
  applied: string[];
  alreadyApplied: string[];
  /** Migrations of a newer version already applied (a rolling upgrade in progress): tolerated. */
  ahead: string[];
}

export class MigrationError extends Error {
  readonly code = 'ERR_MIGRATION';
}

const migrationsRoot = path.resolve(import.meta.dirname, '../../prisma');
/** The key Prisma itself uses for its migration advisory lock, so the two never run at once. */
const ADVISORY_LOCK_KEY = 72707369;

export function listMigrations(provider: DatabaseProvider): Migration[] {
  const folder = path.join(migrationsRoot, provider, 'migrations');
  return fs
    .readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^\d{14}_[a-z0-9_]+$/.test(entry.name))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = fs.readFileSync(path.join(folder, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') };
    });
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: unknown;
  rolled_back_at: unknown;
}

/**
 * What to apply, given the history. Refused: a migration that began and never finished, one
 * changed after it was applied, and one this version does not know among those it does. Allowed:
 * unknown migrations all newer than this version's newest, which is what an instance of the
 * previous version finds during a rolling upgrade (the next version migrated first). Releases
 * keep that safe by migrating in expand-then-contract steps (README, Deployment).
 */
function checkHistory(migrations: Migration[], rows: AppliedRow[]): { pending: Migration[]; done: string[]; ahead: string[] } {
  const applied = new Map(rows.filter((row) => row.rolled_back_at == null).map((row) => [row.migration_name, row]));
  const known = new Set(migrations.map((migration) => migration.name));
  const newestKnown = migrations.at(-1)?.name ?? '';
  const ahead: string[] = [];
  for (const row of applied.values()) {
    if (row.finished_at == null) {
      throw new MigrationError(`migration ${row.migration_name} started but did not finish; repair the database and mark it rolled back`);
    }
    if (known.has(row.migration_name)) continue;
    if (row.migration_name <= newestKnown) {
      throw new MigrationError(
        `the database has migration ${row.migration_name}, which this version of Portcullis does not know, among migrations it does: the histories differ`,
      );
    }
    ahead.push(row.migration_name);
  }
  const pending: Migration[] = [];
  const done: string[] = [];
  for (const migration of migrations) {
    const row = applied.get(migration.name);
    if (!row) pending.push(migration);
    else if (row.checksum !== migration.checksum) {
      throw new MigrationError(`migration ${migration.name} was changed after it was applied (checksum differs)`);
    } else done.push(migration.name);
  }
  if (ahead.length && pending.length) {
    throw new MigrationError(
      `the database has newer migrations (${ahead.join(', ')}) but not ${pending[0]!.name}, which this version has: the histories differ`,
    );
  }
  return { pending, done, ahead: ahead.sort() };
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;

async function migrateSqlite(url: string, migrations: Migration[]): Promise<MigrationResult> {
  const file = sqlitePath(url);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const { default: BetterSqlite3 } = await import('better-sqlite3');
  const db = new BetterSqlite3(file, { timeout: 10_000 });
  try {
    // WAL lets the server keep reading while a CLI command writes, from another process.
    db.pragma('journal_mode = WAL');
    db.exec(CREATE_TABLE);
    // BEGIN IMMEDIATE takes the write lock now, so two processes starting at once take turns.
    return db
      .transaction(() => {
        const rows = db
          .prepare('SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"')
          .all() as AppliedRow[];
        const { pending, done, ahead } = checkHistory(migrations, rows);
        for (const migration of pending) {
          db.exec(migration.sql);
          const now = new Date().toISOString();
          db.prepare(
            'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, ?, ?, 1)',
          ).run(crypto.randomUUID(), migration.checksum, now, migration.name, now);
        }
        return { provider: 'sqlite' as const, applied: pending.map((m) => m.name), alreadyApplied: done, ahead };
      })
      .immediate();
  } finally {
    db.close();
  }
}

async function migratePostgres(url: string, migrations: Migration[]): Promise<MigrationResult> {
  // Each driver is loaded when its database is used: a SQLite start need not load pg.
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_KEY]);
    await client.query(CREATE_TABLE.replace(' UNSIGNED', ''));
    const { rows } = await client.query<AppliedRow>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"',
    );
    const { pending, done, ahead } = checkHistory(migrations, rows);
    for (const migration of pending) {
      // One transaction per migration: PostgreSQL's DDL is transactional, so a failure leaves nothing half-done.
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query(
          'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ($1, $2, now(), $3, now(), 1)',
          [crypto.randomUUID(), migration.checksum, migration.name],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new MigrationError(`migration ${migration.name} failed: ${(error as Error).message}`);
      }
    }
    return { provider: 'postgres', applied: pending.map((m) => m.name), alreadyApplied: done, ahead };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

/** Brings the database at `url` up to date with this version's migrations. Safe to run concurrently. */
export async function migrate(url: string): Promise<MigrationResult> {
  const provider = databaseProvider(url);
  const migrations = listMigrations(provider);
  return provider === 'sqlite' ? migrateSqlite(url, migrations) : migratePostgres(url, migrations);
}
