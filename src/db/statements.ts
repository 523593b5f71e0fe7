// Raw SQL statements on the hot paths, run on the Prisma driver adapter the Prisma client itself
// connected (the same SQLite connection, the same PostgreSQL pool), without the client's request
// pipeline.
//
// Why: on the driver-adapter path, Prisma 6's client compiles every request, raw ones included,
// in WebAssembly on the main thread. Measured here for one primary-key SELECT: about 110 µs of
// CPU through `$queryRaw` against 19 µs on the adapter (SQLite), 310 µs against 75 µs
// (PostgreSQL); a model query (findUnique) costs 300 to 430 µs (prisma/orm#28845; Prisma 7.4
// caches query plans, and its CLI cannot install here). oidc-provider's artifacts are read and
// written several times in every introspection, refresh and login, so their statements come
// here; everything else stays on the Prisma client.
//
// On SQLite they go one step further down, to the better-sqlite3 connection the adapter holds,
// and each statement is prepared once per connection: the adapter prepares every query anew
// (measured here: 34 against 23 µs of CPU for an artifact upsert, 21 against 8 µs for a read by
// primary key), and a refresh runs five of them. Same connection, so nothing else changes: the
// same transactions see them, the same file, the same pragmas.
//
// Statements are tagged templates: every interpolated value is a bound parameter (`?` on
// SQLite, `$n` on PostgreSQL), never text in the SQL. Write them in the SQL both databases
// share: quoted identifiers, INSERT ... ON CONFLICT, `excluded`.
/** Which database a URL names. */
export type DatabaseProvider = 'sqlite' | 'postgres';

/** A value bound to a statement parameter. */
export type SqlValue = string | number | Date | null;

/** The part of Prisma's driver adapter interface (SqlQueryable) that statements use. */
export interface DriverQueryable {
  queryRaw(query: SqlQuery): Promise<{ columnNames: string[]; rows: unknown[][] }>;
  executeRaw(query: SqlQuery): Promise<number>;
}

interface SqlQuery {
  sql: string;
  args: unknown[];
  argTypes: { scalarType: 'string' | 'int' | 'float' | 'datetime' | 'unknown'; arity: 'scalar' }[];
}

export interface Statements {
  /** Rows as objects keyed by column name. Dates come back as ISO 8601 text (see `dateOf`); integers as numbers. */
  query<Row>(strings: readonly string[], ...values: SqlValue[]): Promise<Row[]>;
  /** The number of rows the statement changed. */
  execute(strings: readonly string[], ...values: SqlValue[]): Promise<number>;
}

const argTypeOf = (value: SqlValue): SqlQuery['argTypes'][number] => ({
  scalarType:
    typeof value === 'string'
      ? 'string'
      : typeof value === 'number'
        ? Number.isInteger(value)
          ? 'int'
          : 'float'
        : value instanceof Date
          ? 'datetime'
          : 'unknown',
  arity: 'scalar',
});

/** The SQL text of a template for each database, kept per template (a call site's strings are one array). */
const sqlTexts = { sqlite: new WeakMap<readonly string[], string>(), postgres: new WeakMap<readonly string[], string>() };

function sqlText(provider: DatabaseProvider, strings: readonly string[]): string {
  let sql = sqlTexts[provider].get(strings);
  if (sql === undefined) {
    sql = strings.reduce((text, part, index) => `${text}${provider === 'sqlite' ? '?' : `$${index}`}${part}`);
    sqlTexts[provider].set(strings, sql);
  }
  return sql;
}

/**
 * Builds the query for `provider`'s placeholders; the text between values is SQL written here
 * (a template's strings, or parts joined around a list of parameters).
 */
export function sqlQuery(provider: DatabaseProvider, strings: readonly string[], values: SqlValue[]): SqlQuery {
  return { sql: sqlText(provider, strings), args: values, argTypes: values.map(argTypeOf) };
}

/** A date column's value as the adapters return it (ISO 8601 text, or epoch milliseconds), or null. */
export function dateOf(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return new Date(typeof value === 'bigint' ? Number(value) : (value as string | number));
}

/** The part of better-sqlite3's Database that statements use; Prisma's SQLite adapter keeps one as `client`. */
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}

interface SqliteStatement {
  readonly reader: boolean;
  safeIntegers(enabled: boolean): SqliteStatement;
  all(...values: unknown[]): unknown[];
  run(...values: unknown[]): { changes: number };
}

function sqliteConnectionOf(adapter: DriverQueryable): SqliteConnection | undefined {
  const connection = (adapter as { client?: Partial<SqliteConnection> }).client;
  return typeof connection?.prepare === 'function' ? (connection as SqliteConnection) : undefined;
}

/** A date as Prisma's SQLite adapter writes one (its default `iso8601` format), so the client reads it back alike. */
const sqliteValue = (value: SqlValue) => (value instanceof Date ? value.toISOString().replace('Z', '+00:00') : value);

/** Distinct SQL texts are few (the statements written in this codebase); the bound only guards against a mistake. */
const MAX_PREPARED_PER_CONNECTION = 500;

/** Each connection's prepared statements, by SQL text; a new connection (after a reconnect) starts empty. */
const preparedByConnection = new WeakMap<SqliteConnection, Map<string, SqliteStatement>>();

function prepared(connection: SqliteConnection, sql: string): SqliteStatement {
  let statements = preparedByConnection.get(connection);
  if (!statements) preparedByConnection.set(connection, (statements = new Map()));
  let statement = statements.get(sql);
  if (!statement) {
    if (statements.size >= MAX_PREPARED_PER_CONNECTION) statements.clear();
    // The adapter opens the connection with safe integers (BigInt); no statement here reads a number that needs them.
    statement = connection.prepare(sql).safeIntegers(false);
    statements.set(sql, statement);
  }
  return statement;
}

export function createStatements(provider: DatabaseProvider, driver: () => Promise<DriverQueryable>): Statements {
  if (provider === 'sqlite') {
    return {
      async query<Row>(strings: readonly string[], ...values: SqlValue[]): Promise<Row[]> {
        const adapter = await driver();
        const connection = sqliteConnectionOf(adapter);
        if (!connection) return queryOnAdapter<Row>(adapter, provider, strings, values);
        const statement = prepared(connection, sqlText(provider, strings));
        const args = values.map(sqliteValue);
        if (!statement.reader) {
          statement.run(...args);
          return [];
        }
        return statement.all(...args) as Row[];
      },
      async execute(strings: readonly string[], ...values: SqlValue[]): Promise<number> {
        const adapter = await driver();
        const connection = sqliteConnectionOf(adapter);
        if (!connection) return Number(await adapter.executeRaw(sqlQuery(provider, strings, values)));
        return Number(prepared(connection, sqlText(provider, strings)).run(...values.map(sqliteValue)).changes);
      },
    };
  }
  return {
    async query<Row>(strings: readonly string[], ...values: SqlValue[]): Promise<Row[]> {
      return queryOnAdapter<Row>(await driver(), provider, strings, values);
    },
    async execute(strings: readonly string[], ...values: SqlValue[]): Promise<number> {
      return Number(await (await driver()).executeRaw(sqlQuery(provider, strings, values)));
    },
  };
}

async function queryOnAdapter<Row>(adapter: DriverQueryable, provider: DatabaseProvider, strings: readonly string[], values: SqlValue[]) {
  const { columnNames, rows } = await adapter.queryRaw(sqlQuery(provider, strings, values));
  return rows.map((row) => Object.fromEntries(columnNames.map((name, index) => [name, row[index]])) as Row);
}
