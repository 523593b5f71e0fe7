// The `portcullis` command line. Each command is a thin shell over the service layer
// (src/services.ts); with --json it prints exactly one JSON document on stdout.
import { Command, CommanderError, Option } from 'commander';
import pino, { type Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from '../config/index.ts';
import { migrate, openDatabase, type Database } from '../db/index.ts';
import { PortcullisError } from '../errors/index.ts';
import { createServer } from '../http/index.ts';
import { createServices, type Services } from '../services.ts';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  env: Record<string, string | undefined>;
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT); used by `serve`. */
  untilStopped?(): Promise<void>;
  logger?: Logger;
}

interface JsonOption {
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function print(io: CliIo, options: JsonOption, value: unknown, human: () => string): void {
  io.stdout(options.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) =>
    columns.map((column) => (Array.isArray(row[column]) ? (row[column] as unknown[]).join(' ') : String(row[column] ?? ''))),
  );
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
}

/** Opens the configured database, brings it up to date, runs `work` with the services, and closes it. */
async function withServices<T>(io: CliIo, work: (services: Services, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(io.env);
  await migrate(config.databaseUrl);
  const db = openDatabase(config.databaseUrl);
  try {
    return await work(createServices({ config, db }), config);
  } finally {
    await db.close();
  }
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('portcullis')
    .description('Portcullis: an OAuth 2.0 / OpenID Connect authorization server')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) })
    .showHelpAfterError();

  program
    .command('serve')
    .description('apply migrations and serve HTTP (what `npm start` runs)')
    .option('--json', 'log in JSON (logs are always JSON; accepted for symmetry)')
    .action(async () => {
      const config = loadConfig(io.env);
      const logger = io.logger ?? pino({ level: config.logLevel, base: { service: 'portcullis' } });
      const migrated = await migrate(config.databaseUrl);
      if (migrated.applied.length) logger.info({ applied: migrated.applied }, 'applied database migrations');
      const db: Database = openDatabase(config.databaseUrl);
      const server = await createServer({ config, db, logger });
      const { url, port } = await server.listen();
      logger.info({ url, port, issuer: config.issuer, database: db.displayUrl }, 'listening');
      await (io.untilStopped?.() ?? new Promise<void>(() => undefined));
      logger.info('shutting down');
      await server.close();
      await db.close();
    });

  program
    .command('migrate')
    .description('apply pending database migrations')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const config = loadConfig(io.env);
      const result = await migrate(config.databaseUrl);
      print(io, options, result, () =>
        result.applied.length ? `applied ${result.applied.length} migration(s): ${result.applied.join(', ')}` : 'database is up to date',
      );
    });

  const client = program.command('client').description('manage OAuth clients');
  client
    .command('create')
    .description('register a client; prints its id and (once, never again) its secret')
    .requiredOption('--name <name>', 'display name')
    .option('--grant <type>', 'allowed grant type (repeat): client_credentials, authorization_code, refresh_token', collect)
    .option('--redirect-uri <uri>', 'allowed redirect URI (repeat)', collect)
    .option('--scope <scopes>', 'space-separated scopes the client may ask for')
    .option('--public', 'a public client (single-page or native app): no secret, PKCE only')
    .addOption(new Option('--auth-method <method>', 'token endpoint authentication').choices(['client_secret_basic', 'client_secret_post']))
    .option('--json', 'print JSON')
    .action(
      async (
        options: JsonOption & {
          name: string;
          grant?: string[];
          redirectUri?: string[];
          scope?: string;
          public?: boolean;
          authMethod?: string;
        },
      ) => {
        const created = await withServices(io, (services) =>
          services.clients.create({
            name: options.name,
            grantTypes: options.grant ?? [],
            redirectUris: options.redirectUri ?? [],
            ...(options.scope !== undefined ? { scope: options.scope } : {}),
            public: options.public === true,
            ...(options.authMethod ? { tokenEndpointAuthMethod: options.authMethod } : {}),
          }),
        );
        print(io, options, created, () =>
          [
            `client_id:     ${created.client_id}`,
            ...(created.client_secret ? [`client_secret: ${created.client_secret}`, 'The secret is shown only now: store it safely.'] : []),
          ].join('\n'),
        );
      },
    );
  client
    .command('list')
    .description('list clients (never their secrets)')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const clients = await withServices(io, (services) => services.clients.list());
      print(io, options, clients, () => table(clients as never, ['client_id', 'name', 'grant_types', 'scope', 'public']));
    });

  const user = program.command('user').description('manage users');
  user
    .command('create')
    .description('create a user; the password is read from standard input')
    .requiredOption('--email <email>', 'email address (the login name)')
    .option('--password-stdin', 'read the password from standard input (required: passwords never go on the command line)')
    .option('--name <name>', 'display name')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { email: string; passwordStdin?: boolean; name?: string }) => {
      if (!options.passwordStdin) {
        throw new PortcullisError('invalid_input', 2, '--password-stdin is required: pipe the password in, never pass it as an argument');
      }
      // One trailing newline is what `echo` and a terminal add; it is not part of the password.
      const password = (await io.readStdin()).replace(/\r?\n$/, '');
      const created = await withServices(io, (services) =>
        services.users.create({ email: options.email, password, ...(options.name ? { name: options.name } : {}) }),
      );
      print(io, options, created, () => `id: ${created.id}`);
    });
  user
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const users = await withServices(io, (services) => services.users.list());
      print(io, options, users, () => table(users as never, ['id', 'email', 'name', 'disabled']));
    });

  return program;
}

/** Runs the CLI with `argv` (without node and script). Resolves with the exit code; never throws. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    let message: string;
    let body: Record<string, unknown>;
    if (error instanceof ConfigError) {
      message = error.message;
      body = { error: 'invalid_configuration', problems: error.problems };
    } else if (error instanceof PortcullisError) {
      message = error.message;
      body = { error: error.code, error_description: error.message, ...('field' in error ? { field: error.field } : {}) };
    } else {
      message = (error as Error).message ?? String(error);
      body = { error: 'error', error_description: message };
    }
    io.stderr(json ? `${JSON.stringify(body)}\n` : `portcullis: ${message}\n`);
    return 1;
  }
}
