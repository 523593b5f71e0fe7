// The `portcullis` command line. Each command is a thin shell over the service layer
// (src/services.ts); with --json it prints exactly one JSON document on stdout.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import pino, { type Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from '../config/index.ts';
import { migrate, openDatabase, type Database } from '../db/index.ts';
import { fromDatabaseError, InputError, PortcullisError } from '../errors/index.ts';
import { createServer } from '../http/index.ts';
import { randomSecret } from '../crypto/index.ts';
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

/** Parses "90s", "15m", "24h", "7d" or a bare number of seconds. */
export function parseDuration(text: string, option: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new InputError(option, `${JSON.stringify(text)} is not a duration such as 90s, 15m, 24h or 7d`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? 's') as 's'];
}

/** A JWK Set given inline as JSON, or as @FILE. */
function readJwks(text: string): unknown {
  const json = text.startsWith('@') ? fs.readFileSync(text.slice(1), 'utf8') : text;
  try {
    return JSON.parse(json);
  } catch {
    throw new InputError('jwks', 'is not valid JSON (give the JWK Set inline or as @FILE)');
  }
}

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
  const services = createServices({ config, db });
  try {
    return await work(services, config);
  } finally {
    await services.close();
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
      // Lines are written at once (pino's default): measured here, buffering them (pino's
      // minLength) cost more CPU per request than the write(2) it saves (bench/RESULTS.md).
      const logger = io.logger ?? pino({ level: config.logLevel, base: { service: 'portcullis' } });
      if (config.developmentSecretsInUse.length)
        logger.warn(
          { variables: config.developmentSecretsInUse },
          'using the built-in development secrets, which are public: fine on this machine, never for a server others can reach',
        );
      const migrated = await migrate(config.databaseUrl);
      if (migrated.applied.length) logger.info({ applied: migrated.applied }, 'applied database migrations');
      const db: Database = openDatabase(config.databaseUrl, config);
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
    .addOption(
      new Option('--auth-method <method>', 'token endpoint authentication').choices([
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
      ]),
    )
    .option('--jwks <json|@file>', 'the public JWK Set of a private_key_jwt client')
    .option('--default-resource <audience>', 'the API tokens are for when a request names none')
    .option('--post-logout-redirect-uri <uri>', 'where logout may return the user (repeat)', collect)
    .option('--always-issue-refresh-token', 'issue refresh tokens even without the offline_access scope')
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
          jwks?: string;
          defaultResource?: string;
          postLogoutRedirectUri?: string[];
          alwaysIssueRefreshToken?: boolean;
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
            ...(options.jwks !== undefined ? { jwks: readJwks(options.jwks) } : {}),
            ...(options.defaultResource !== undefined ? { defaultResource: options.defaultResource } : {}),
            postLogoutRedirectUris: options.postLogoutRedirectUri ?? [],
            alwaysIssueRefreshToken: options.alwaysIssueRefreshToken === true,
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

  client
    .command('secret')
    .description("manage a client's secret")
    .command('rotate <client_id>')
    .description('give the client a new secret (printed once); the old one works until the grace period ends')
    .option('--grace <duration>', 'how long the old secret keeps working, e.g. 0, 15m, 24h, 7d', '24h')
    .option('--json', 'print JSON')
    .action(async (clientId: string, options: JsonOption & { grace: string }) => {
      const grace = parseDuration(options.grace, 'grace');
      const rotated = await withServices(io, (services) => services.clients.rotateSecret(clientId, grace));
      print(io, options, rotated, () =>
        [`client_secret: ${rotated.client_secret}`, `The previous secret works until ${rotated.previous_secret_expires_at}.`].join('\n'),
      );
    });

  const resource = program.command('resource').description('manage API resources (audiences of JWT access tokens)');
  resource
    .command('create')
    .description('register an API that accepts Portcullis access tokens')
    .requiredOption('--audience <uri>', 'the audience identifier (an absolute URI), the `resource` clients ask for')
    .requiredOption('--scope <scopes>', 'space-separated scopes the API accepts')
    .option('--ttl <seconds>', 'access token lifetime in seconds (60 to 3600; default 900)')
    .option('--name <name>', 'display name')
    .option('--personal-key-scope <scopes>', 'scopes people may put on API keys of their own for this API (default none)')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { audience: string; scope: string; ttl?: string; name?: string; personalKeyScope?: string }) => {
      const ttl = options.ttl === undefined ? undefined : Number(options.ttl);
      if (ttl !== undefined && !Number.isInteger(ttl)) throw new InputError('ttl', 'must be a whole number of seconds');
      const created = await withServices(io, (services) =>
        services.resources.create({
          audience: options.audience,
          scope: options.scope,
          ...(ttl !== undefined ? { ttl } : {}),
          ...(options.name ? { name: options.name } : {}),
          ...(options.personalKeyScope !== undefined ? { personalKeyScope: options.personalKeyScope } : {}),
        }),
      );
      print(
        io,
        options,
        created,
        () => `audience: ${created.audience}\nscope:    ${created.scope}\nttl:      ${created.access_token_ttl}s`,
      );
    });
  resource
    .command('update')
    .description('change which scopes people may put on API keys of their own for an API')
    .requiredOption('--audience <uri>', 'the API to change')
    .requiredOption('--personal-key-scope <scopes>', 'the scopes people may put on keys of their own ("" for none)')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { audience: string; personalKeyScope: string }) => {
      const updated = await withServices(io, (services) =>
        services.resources.update({ audience: options.audience }, { personalKeyScope: options.personalKeyScope }),
      );
      print(
        io,
        options,
        updated,
        () => `audience:           ${updated.audience}\npersonal key scope: ${updated.personal_key_scope || '(none)'}`,
      );
    });
  resource
    .command('list')
    .description('list API resources')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const resources = await withServices(io, (services) => services.resources.list());
      print(io, options, resources, () =>
        table(resources as never, ['audience', 'scope', 'personal_key_scope', 'access_token_ttl', 'name']),
      );
    });

  const keys = program.command('keys').description('manage signing keys');
  keys
    .command('list')
    .description('list signing keys: kid, algorithm, state (next, current, previous, retired) and dates')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const list = await withServices(io, (services) => services.keys.list());
      print(io, options, list, () => table(list as never, ['kid', 'alg', 'state', 'created_at', 'activated_at', 'deactivated_at']));
    });
  keys
    .command('rotate')
    .description(
      'promote next to current and current to previous, and create a new next key; running servers pick it up within their poll interval',
    )
    .option('--force', 'rotate even if the next key is younger than the JWKS cache lifetime (for a compromised key)')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { force?: boolean }) => {
      const rotated = await withServices(io, (services) => services.keys.rotate({ force: options.force === true }));
      print(io, options, rotated, () => `current:  ${rotated.current}\nnext:     ${rotated.next}\nprevious: ${rotated.previous}`);
    });

  program
    .command('demo')
    .description('create a demo user and a public app to log in with, and print a ready authorization URL (with PKCE)')
    .option('--redirect-uri <uri>', "the demo app's redirect URI (nothing needs to listen there)", 'http://localhost:8080/callback')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { redirectUri: string }) => {
      const demo = await withServices(io, async (services, config) => {
        const email = `demo-${crypto.randomBytes(3).toString('hex')}@example.com`;
        const password = randomSecret(12);
        await services.users.create({ email, password, name: 'Demo User' });
        const app = await services.clients.create({
          name: 'Demo app',
          public: true,
          grantTypes: ['authorization_code', 'refresh_token'],
          redirectUris: [options.redirectUri],
        });
        // RFC 7636: the app keeps the verifier and sends only its SHA-256 in the request.
        const codeVerifier = randomSecret(32);
        const authorization = new URL(`${config.issuer}/auth`);
        authorization.search = new URLSearchParams({
          client_id: app.client_id,
          response_type: 'code',
          redirect_uri: options.redirectUri,
          scope: 'openid profile email offline_access',
          prompt: 'consent',
          state: randomSecret(12),
          code_challenge: crypto.createHash('sha256').update(codeVerifier).digest('base64url'),
          code_challenge_method: 'S256',
        }).toString();
        return {
          client_id: app.client_id,
          redirect_uri: options.redirectUri,
          email,
          password,
          authorization_url: authorization.toString(),
          code_verifier: codeVerifier,
          token_endpoint: `${config.issuer}/token`,
        };
      });
      print(io, options, demo, () =>
        [
          `Demo user:   ${demo.email}  password: ${demo.password}`,
          `Demo app:    ${demo.client_id} (public, PKCE)`,
          '',
          '1. Open this URL in a browser and sign in as the demo user:',
          `   ${demo.authorization_url}`,
          `2. You land on ${demo.redirect_uri}?code=...; copy the code from the address bar.`,
          '3. Exchange it for tokens:',
          `   curl -d grant_type=authorization_code -d client_id=${demo.client_id} -d redirect_uri=${demo.redirect_uri} \\`,
          `        -d code_verifier=${demo.code_verifier} -d code=CODE ${demo.token_endpoint}`,
        ].join('\n'),
      );
    });

  const apikey = program.command('apikey').description('manage API keys (long-lived credentials for server-to-server calls)');
  apikey
    .command('create')
    .description('create an API key; prints it once (only a keyed hash is stored)')
    .requiredOption('--name <name>', 'what the key is for')
    .requiredOption('--scope <scopes>', 'space-separated scopes the key carries')
    .option('--audience <uri>', 'an API resource the key may be used for (repeat; none: any)', collect)
    .option('--expires-in <duration>', 'lifetime, e.g. 90d, 12h (default: no expiry)')
    .option('--owner-user <id>', 'the user the key acts for')
    .option('--owner-client <id>', 'the client the key identifies')
    .option('--rate-limit <n/window>', 'requests allowed per window, e.g. 100/1m')
    .option('--json', 'print JSON')
    .action(
      async (
        options: JsonOption & {
          name: string;
          scope: string;
          audience?: string[];
          expiresIn?: string;
          ownerUser?: string;
          ownerClient?: string;
          rateLimit?: string;
        },
      ) => {
        const created = await withServices(io, (services) =>
          services.apiKeys.create({
            name: options.name,
            scope: options.scope,
            audiences: options.audience ?? [],
            ...(options.expiresIn !== undefined ? { expiresInSeconds: parseDuration(options.expiresIn, 'expires_in') } : {}),
            ...(options.ownerUser !== undefined ? { ownerUserId: options.ownerUser } : {}),
            ...(options.ownerClient !== undefined ? { ownerClientId: options.ownerClient } : {}),
            ...(options.rateLimit !== undefined ? { rateLimit: options.rateLimit } : {}),
          }),
        );
        print(io, options, created, () =>
          [`id:  ${created.id}`, `key: ${created.key}`, 'The key is shown only now: store it safely.'].join('\n'),
        );
      },
    );
  apikey
    .command('list')
    .description('list API keys (never the keys themselves)')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const keys = await withServices(io, (services) => services.apiKeys.list());
      print(io, options, keys, () =>
        table(keys as never, ['id', 'name', 'display_prefix', 'scope', 'expires_at', 'revoked_at', 'use_count']),
      );
    });
  apikey
    .command('revoke <id>')
    .description('revoke an API key at once')
    .option('--json', 'print JSON')
    .action(async (id: string, options: JsonOption) => {
      const revoked = await withServices(io, (services) => services.apiKeys.revoke(id));
      print(io, options, revoked, () => `revoked ${revoked.id} (${revoked.display_prefix}…)`);
    });
  apikey
    .command('rotate <id>')
    .description('issue a new key with the same settings; the old one works until the grace period ends')
    .option('--grace <duration>', 'how long the old key keeps working, e.g. 0, 1h, 7d', '24h')
    .option('--json', 'print JSON')
    .action(async (id: string, options: JsonOption & { grace: string }) => {
      const rotated = await withServices(io, (services) => services.apiKeys.rotate(id, parseDuration(options.grace, 'grace')));
      print(io, options, rotated, () =>
        [`id:  ${rotated.id}`, `key: ${rotated.key}`, `The previous key works until ${rotated.previous_key_expires_at}.`].join('\n'),
      );
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
  } catch (caught) {
    if (caught instanceof CommanderError) return caught.exitCode;
    const error = fromDatabaseError(caught);
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
