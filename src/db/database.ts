// Owns the connection to the database. One set of models, two providers: the URL's scheme
// picks the generated Prisma client and driver adapter (SQLite file or PostgreSQL).
import fs from 'node:fs';
import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient as SqliteClient } from '../generated/sqlite/client.ts';
import { PrismaClient as PostgresClient } from '../generated/postgres/client.ts';
import { createStatements, type DatabaseProvider, type DriverQueryable, type Statements } from './statements.ts';

/** The Prisma client type both providers share (they differ only in transaction isolation levels). */
export type Prisma = InstanceType<typeof SqliteClient>;

export interface Database {
  provider: DatabaseProvider;
  prisma: Prisma;
  /** Raw statements on the client's own connection, for the hot paths (see statements.ts). */
  statements: Statements;
  /** The URL with any password hidden, for logs. */
  displayUrl: string;
  close(): Promise<void>;
}

export function databaseProvider(url: string): DatabaseProvider {
  if (url.startsWith('file:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  throw new Error('DATABASE_URL must start with file: or postgresql://');
}

/** The absolute path of a `file:` URL, relative paths taken from the working directory. */
export function sqlitePath(url: string): string {
  const rest = url
    .slice('file:'.length)
    .replace(/^\/\/(?=\/)/, '')
    .split('?')[0]!;
  return path.resolve(rest);
}

export function hidePassword(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

export interface ConnectionSettings {
  /**
   * SQLite's `synchronous` in WAL mode (set by migrate): `normal` syncs the log at checkpoints
   * and stays consistent after any crash, a power loss can take back the last commits; `full`
   * syncs every commit. better-sqlite3 is built with NORMAL as its WAL default, so `normal` is
   * what an unconfigured connection does. PostgreSQL keeps its own server settings.
   */
  sqliteSynchronous?: 'normal' | 'full';
}

/** Thrown when a statement finds no open connection; a database error, so callers answer 503. */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
}

type DriverAdapter = DriverQueryable & { dispose(): Promise<void> };

/**
 * Hands the Prisma client its driver adapter factory and keeps what the client connects
 * through, so that statements run on the same connection or pool. On SQLite that means they
 * also run inside any interactive transaction the client has open, exactly as the client's own
 * queries outside the transaction do (the adapter does not hold them back): a rollback of one
 * also takes back what they wrote meanwhile. `prepare` runs once on every new connection.
 */
function capturingFactory<Factory extends { connect(): Promise<unknown> }>(
  factory: Factory,
  prepare: (adapter: DriverQueryable) => Promise<void>,
) {
  let connected: DriverAdapter | undefined;
  const capturing = Object.create(factory) as Factory;
  capturing.connect = async () => {
    const adapter = (await factory.connect()) as DriverAdapter;
    await prepare(adapter);
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = () => {
      // Only this adapter's going clears it: an older one disposed late must not.
      if (connected === adapter) connected = undefined;
      return dispose();
    };
    connected = adapter;
    return adapter;
  };
  return { capturing, connected: () => connected };
}

export function openDatabase(url: string, { sqliteSynchronous = 'normal' }: ConnectionSettings = {}): Database {
  const provider = databaseProvider(url);
  let prisma: Prisma;
  let connected: () => DriverQueryable | undefined;
  if (provider === 'sqlite') {
    const file = sqlitePath(url);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const pragma = sqliteSynchronous === 'full' ? 'PRAGMA synchronous = FULL' : 'PRAGMA synchronous = NORMAL';
    const factory = capturingFactory(new PrismaBetterSQLite3({ url: `file:${file}`, timeout: 5_000 }), async (adapter) => {
      await adapter.executeRaw({ sql: pragma, args: [], argTypes: [] });
    });
    connected = factory.connected;
    prisma = new SqliteClient({ adapter: factory.capturing });
  } else {
    const factory = capturingFactory(new PrismaPg({ connectionString: url, max: 10, connectionTimeoutMillis: 5_000 }), async () => {});
    connected = factory.connected;
    prisma = new PostgresClient({ adapter: factory.capturing }) as unknown as Prisma;
  }
  const statements = createStatements(provider, async () => {
    // The client connects on its first request; a statement may come first.
    if (!connected()) await prisma.$connect();
    const adapter = connected();
    if (!adapter) throw new DatabaseUnavailableError('the database connection is closed');
    return adapter;
  });
  return {
    provider,
    prisma,
    statements,
    displayUrl: hidePassword(url),
    close: () => prisma.$disconnect(),
  };
}
