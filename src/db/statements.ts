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
  /** Rows as objects keyed by column name. Dates come back as ISO 8601 text (see `dateOf`). */
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

/**
 * Builds the query for `provider`'s placeholders; the text between values is SQL written here
 * (a template's strings, or parts joined around a list of parameters).
 */
export function sqlQuery(provider: DatabaseProvider, strings: readonly string[], values: SqlValue[]): SqlQuery {
  const sql = strings.reduce((text, part, index) => `${text}${provider === 'sqlite' ? '?' : `$${index}`}${part}`);
  return { sql, args: values, argTypes: values.map(argTypeOf) };
}

/** A date column's value as the adapters return it (ISO 8601 text, or epoch milliseconds), or null. */
export function dateOf(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return new Date(typeof value === 'bigint' ? Number(value) : (value as string | number));
}

export function createStatements(provider: DatabaseProvider, driver: () => Promise<DriverQueryable>): Statements {
  return {
    async query<Row>(strings: readonly string[], ...values: SqlValue[]): Promise<Row[]> {
      const { columnNames, rows } = await (await driver()).queryRaw(sqlQuery(provider, strings, values));
      return rows.map((row) => Object.fromEntries(columnNames.map((name, index) => [name, row[index]])) as Row);
    },
    async execute(strings: readonly string[], ...values: SqlValue[]): Promise<number> {
      return Number(await (await driver()).executeRaw(sqlQuery(provider, strings, values)));
    },
  };
}
