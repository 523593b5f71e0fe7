// `portcullis connection …` and `portcullis user identities`, run as an operator types them,
// against a real database. The OpenID Connect upstream is a second Portcullis over real HTTP: its
// discovery document is the one the connection service fetches and checks.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { openDatabase } from '../../src/db/index.ts';
import { createServices } from '../../src/services.ts';
import { cli, cliJson } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startServer, testPepper, type RunningServer } from '../support/server.ts';

/** A loopback issuer: the development secrets are accepted only with one. */
const ISSUER = 'http://127.0.0.1:4999';
const SECRET = 'upstream-secret-Zq81xv0Ppm';

let testDatabase: TestDatabase;
let env: Record<string, string>;
let upstream: RunningServer;
/** Serves a discovery document that names another issuer than the one it is fetched as. */
let impostor: http.Server;
let impostorUrl: string;

interface View {
  id: string;
  name: string;
  type: string;
  preset: string | null;
  display_name: string;
  issuer: string | null;
  authorization_url: string | null;
  token_url: string | null;
  userinfo_url: string | null;
  client_id: string;
  scope: string;
  claim_mapping: Record<string, string>;
  trust_email_verified: boolean;
  create_accounts: boolean;
  store_tokens: boolean;
  enabled: boolean;
  position: number;
  token_endpoint_auth_method: string;
  callback_url: string;
}

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  env = { DATABASE_URL: testDatabase.url, HASH_PEPPER: testPepper, NODE_ENV: 'test', ISSUER };
  upstream = await startServer();
  impostor = http.createServer((request, response) => {
    if (request.url !== '/.well-known/openid-configuration') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        issuer: 'https://someone-else.example.com',
        authorization_endpoint: 'https://someone-else.example.com/auth',
        token_endpoint: 'https://someone-else.example.com/token',
        jwks_uri: 'https://someone-else.example.com/jwks',
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      }),
    );
  });
  await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
  impostorUrl = `http://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => impostor.close(() => resolve()));
  await upstream.stop();
  await testDatabase.drop();
});

/** Runs `work` with the service layer on the CLI's database (what a test cannot do through the CLI). */
async function withServices<T>(work: (services: ReturnType<typeof createServices>) => Promise<T>): Promise<T> {
  const db = openDatabase(testDatabase.url);
  const services = createServices({ config: loadConfig(env), db });
  try {
    return await work(services);
  } finally {
    await services.close();
    await db.close();
  }
}

/** The Connection table's rows, as stored. */
async function connectionRows() {
  const db = openDatabase(testDatabase.url);
  try {
    return await db.prisma.connection.findMany();
  } finally {
    await db.close();
  }
}

function oidcArgs(name: string, extra: string[] = []): string[] {
  return [
    'connection',
    'create',
    '--name',
    name,
    '--type',
    'oidc',
    '--display-name',
    'Upstream',
    '--issuer',
    upstream.url,
    '--client-id',
    'portcullis-downstream',
    '--client-secret-stdin',
    ...extra,
  ];
}

function oauth2Args(name: string, extra: string[] = []): string[] {
  return [
    'connection',
    'create',
    '--name',
    name,
    '--type',
    'oauth2',
    '--display-name',
    'Plain OAuth',
    '--authorization-url',
    'https://oauth.example.com/authorize',
    '--token-url',
    'https://oauth.example.com/token',
    '--userinfo-url',
    'https://oauth.example.com/me',
    '--client-id',
    'plain-client',
    '--client-secret-stdin',
    ...extra,
  ];
}

describe('connection create', () => {
  test('an OpenID Connect connection: discovery checked, the callback URL printed, the secret nowhere in plain form', async () => {
    const human = await cli(oidcArgs('upstream', ['--claim', 'email=mail', '--position', '3', '--store-tokens']), env, `${SECRET}\n`);
    expect(human.stderr).toBe('');
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`Callback URL: ${ISSUER}/federation/upstream/callback`);
    expect(human.stdout).toMatch(/^Created connection upstream \(oidc\): "Upstream" on the login page\.$/m);
    expect(human.stdout).toMatch(/^Claim mapping: subject=sub email=mail name=name email_verified=email_verified$/m);
    expect(human.stdout).not.toContain(SECRET);

    const shown = await cli(['connection', 'show', 'upstream', '--json'], env);
    const view = shown.json<View>();
    expect(view).toMatchObject({
      name: 'upstream',
      type: 'oidc',
      issuer: upstream.url,
      client_id: 'portcullis-downstream',
      scope: 'openid email profile',
      claim_mapping: { subject: 'sub', email: 'mail', name: 'name', email_verified: 'email_verified' },
      store_tokens: true,
      create_accounts: true,
      enabled: true,
      position: 3,
      callback_url: `${ISSUER}/federation/upstream/callback`,
    });
    expect(view).not.toHaveProperty('client_secret');
    expect(shown.stdout).not.toContain(SECRET);
    const shownHuman = (await cli(['connection', 'show', 'upstream'], env)).stdout;
    expect(shownHuman).toMatch(new RegExp(`^issuer:\\s+${upstream.url}$`, 'm'));
    expect(shownHuman).toContain(`Callback URL: ${ISSUER}/federation/upstream/callback`);
    expect(shownHuman).not.toContain(SECRET);

    const [row] = (await connectionRows()).filter((candidate) => candidate.name === 'upstream');
    expect(row!.clientSecret).not.toContain(SECRET);
    expect(row!.clientSecret.length).toBeGreaterThan(SECRET.length);
    expect(JSON.stringify(await connectionRows())).not.toContain(SECRET);
  });

  test('--json prints the connection with its callback_url; the trailing newline is not part of the secret', async () => {
    const created = await cliJson<View>(oidcArgs('upstream-json', ['--no-create-accounts', '--disabled']), env, `${SECRET}\n`);
    expect(created).toMatchObject({ name: 'upstream-json', create_accounts: false, enabled: false });
    expect(created.callback_url).toBe(`${ISSUER}/federation/upstream-json/callback`);
    // The services unseal what was stored: exactly the secret, without the newline echo added.
    const connection = await withServices((services) => services.federation.connections.byId(created.id));
    expect(connection?.clientSecret).toBe(SECRET);
  });

  test('an OAuth 2.0 connection with its three endpoints', async () => {
    const created = await cliJson<View>(
      oauth2Args('plain', ['--scope', 'profile email', '--claim', 'subject=id', '--token-auth', 'client_secret_post']),
      env,
      SECRET,
    );
    expect(created).toMatchObject({
      type: 'oauth2',
      issuer: null,
      authorization_url: 'https://oauth.example.com/authorize',
      token_url: 'https://oauth.example.com/token',
      userinfo_url: 'https://oauth.example.com/me',
      scope: 'profile email',
      claim_mapping: { subject: 'id' },
      token_endpoint_auth_method: 'client_secret_post',
    });
  });

  test('the github preset needs no URLs and gives its own', async () => {
    const created = await cliJson<View>(
      ['connection', 'create', '--name', 'github', '--preset', 'github', '--client-id', 'gh-id', '--client-secret-stdin'],
      env,
      SECRET,
    );
    expect(created).toMatchObject({
      type: 'oauth2',
      preset: 'github',
      display_name: 'GitHub',
      authorization_url: 'https://github.com/login/oauth/authorize',
      token_url: 'https://github.com/login/oauth/access_token',
      userinfo_url: 'https://api.github.com/user',
      claim_mapping: { subject: 'id', email: 'email', name: 'name' },
    });
  });

  test('the microsoft preset without --issuer is refused, naming issuer and its flag', async () => {
    const args = ['connection', 'create', '--name', 'entra', '--preset', 'microsoft', '--client-id', 'ms-id', '--client-secret-stdin'];
    const json = await cli([...args, '--json'], env, SECRET);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: 'invalid_input', field: 'issuer' });
    const human = await cli(args, env, SECRET);
    expect(human.stderr).toMatch(
      /^portcullis: issuer \(--issuer\): is required for the microsoft preset: https:\/\/login\.microsoftonline\.com\/TENANT_ID\/v2\.0/,
    );
    expect((await connectionRows()).map((row) => row.name)).not.toContain('entra');
  });

  test('the same name twice is a conflict', async () => {
    await cliJson(oauth2Args('twice'), env, SECRET);
    const again = await cli([...oauth2Args('twice'), '--json'], env, SECRET);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: 'conflict' });
  });

  test('a secret is never taken from the command line', async () => {
    const withoutStdin = oauth2Args('no-secret').filter((arg) => arg !== '--client-secret-stdin');
    const result = await cli(withoutStdin, env, SECRET);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^portcullis: client_secret \(--client-secret-stdin\): is read from standard input/);
    expect((await cli([...withoutStdin, '--client-secret', SECRET], env)).code).not.toBe(0);
    expect((await connectionRows()).map((row) => row.name)).not.toContain('no-secret');
  });
});

describe('bad connections are refused when saved, naming the field and the flag', () => {
  test('a non-https issuer in production', async () => {
    const production = {
      DATABASE_URL: testDatabase.url,
      NODE_ENV: 'production',
      ISSUER: 'https://auth.example.com',
      COOKIE_KEYS: 'a-production-cookie-key-that-is-long-enough-1',
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64url'),
      HASH_PEPPER: 'a-production-pepper-that-is-long-enough-1234',
      LOG_LEVEL: 'silent',
    };
    const json = await cli([...oidcArgs('insecure'), '--json'], production, SECRET);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: 'invalid_input', field: 'issuer' });
    const human = await cli(oidcArgs('insecure'), production, SECRET);
    expect(human.stderr).toBe('portcullis: issuer (--issuer): must be an https: URL in production\n');
    // The same issuer outside production is accepted: what refused it was the rule of production.
    expect((await cli([...oidcArgs('insecure'), '--json'], env, SECRET)).code).toBe(0);
  });

  test('a discovery document that names another issuer', async () => {
    const args = [...oidcArgs('impostor').map((arg) => (arg === upstream.url ? impostorUrl : arg)), '--json'];
    const result = await cli(args, env, SECRET);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toMatchObject({ error: 'invalid_input', field: 'issuer' });
    expect(JSON.parse(result.stderr).error_description).toMatch(/another issuer/);
    expect((await connectionRows()).map((row) => row.name)).not.toContain('impostor');
  });

  test.each([
    ['a claim mapping onto an unknown field', () => oauth2Args('bad-claim', ['--claim', 'phone=x']), 'claim_mapping', '--claim'],
    ['a claim flag without =', () => oauth2Args('bad-claim', ['--claim', 'email']), 'claim_mapping', '--claim'],
    ['an OpenID Connect scope without openid', () => oidcArgs('no-openid', ['--scope', 'email profile']), 'scope', '--scope'],
    [
      'OAuth 2.0 without a token URL',
      () => oauth2Args('no-token').filter((arg, i, all) => arg !== '--token-url' && all[i - 1] !== '--token-url'),
      'token_url',
      '--token-url',
    ],
    ['an unknown type', () => [...oauth2Args('odd').map((arg) => (arg === 'oauth2' ? 'saml' : arg))], 'type', '--type'],
    ['a name that is not lowercase', () => oauth2Args('Upper'), 'name', '--name'],
    ['a position that is not a number', () => oauth2Args('pos', ['--position', 'first']), 'position', '--position'],
    [
      'a relative URL',
      () => oauth2Args('relative').map((arg) => (arg === 'https://oauth.example.com/me' ? '/me' : arg)),
      'userinfo_url',
      '--userinfo-url',
    ],
  ])('%s', async (_name, argsOf, field, flag) => {
    const args = argsOf();
    const json = await cli([...args, '--json'], env, SECRET);
    expect(json.code).toBe(1);
    expect(json.stdout).toBe('');
    expect(JSON.parse(json.stderr)).toMatchObject({ error: 'invalid_input', field });
    const human = await cli(args, env, SECRET);
    expect(human.stderr.startsWith(`portcullis: ${field} (${flag}): `)).toBe(true);
  });
});

describe('connection list, show, update, delete', () => {
  test('list shows every connection in login-page order, never a secret', async () => {
    const listed = await cli(['connection', 'list', '--json'], env);
    const views = listed.json<View[]>();
    expect(views.map((view) => view.name)).toEqual(expect.arrayContaining(['upstream', 'plain', 'github']));
    expect(views.map((view) => view.position)).toEqual([...views.map((view) => view.position)].sort((a, b) => a - b));
    expect(listed.stdout).not.toContain(SECRET);
    const human = await cli(['connection', 'list'], env);
    expect(human.stdout).toMatch(/^name\s+type\s+preset\s+display_name/);
    expect(human.stdout).toContain(`${ISSUER}/federation/github/callback`);
  });

  test('show of an unknown connection is not found', async () => {
    const result = await cli(['connection', 'show', 'nothing-here', '--json'], env);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toMatchObject({ error: 'not_found' });
  });

  test('update changes what is given and keeps the rest; the secret can be replaced from stdin', async () => {
    const updated = await cliJson<View>(
      ['connection', 'update', 'plain', '--display-name', 'Plain v2', '--disable', '--no-create-accounts', '--claim', 'email=mail'],
      env,
    );
    expect(updated).toMatchObject({
      display_name: 'Plain v2',
      enabled: false,
      create_accounts: false,
      claim_mapping: { subject: 'id', email: 'mail' },
      token_url: 'https://oauth.example.com/token',
      scope: 'profile email',
    });
    const back = await cliJson<View>(
      ['connection', 'update', 'plain', '--enable', '--create-accounts', '--client-secret-stdin'],
      env,
      'a-new-secret\n',
    );
    expect(back).toMatchObject({ enabled: true, create_accounts: true, display_name: 'Plain v2' });
    expect((await withServices((services) => services.federation.connections.byId(back.id)))?.clientSecret).toBe('a-new-secret');
    expect(JSON.stringify(await connectionRows())).not.toContain('a-new-secret');
  });

  test('update refuses what create refuses, naming the field and the flag', async () => {
    const scope = await cli(['connection', 'update', 'upstream', '--scope', 'email'], env);
    expect(scope.stderr).toBe('portcullis: scope (--scope): must include openid for an OpenID Connect connection\n');
    const both = await cli(['connection', 'update', 'plain', '--enable', '--disable', '--json'], env);
    expect(JSON.parse(both.stderr)).toMatchObject({ field: 'enabled' });
    const unknown = await cli(['connection', 'update', 'nothing-here', '--display-name', 'x', '--json'], env);
    expect(JSON.parse(unknown.stderr)).toMatchObject({ error: 'not_found' });
  });

  test('delete removes the connection and says how many linked identities went with it', async () => {
    await cliJson(oauth2Args('doomed'), env, SECRET);
    const { id: userId } = await cliJson<{ id: string }>(
      ['user', 'create', '--email', 'linked@example.com', '--password-stdin'],
      env,
      'a long passphrase',
    );
    await withServices(async (services) => {
      const doomed = await services.federation.connections.get('doomed');
      await services.federation.identities.link(
        userId,
        {
          connectionId: doomed.id,
          connectionName: 'doomed',
          displayName: doomed.display_name,
          profile: { subject: 'upstream-42', email: 'linked@example.com', emailVerified: false },
        },
        CLI_ACTOR,
      );
    });

    const identities = await cliJson<{ connection: string; display_name: string; email: string | null; id: string }[]>(
      ['user', 'identities', 'linked@example.com'],
      env,
    );
    expect(identities).toEqual([
      expect.objectContaining({
        connection: 'doomed',
        display_name: 'Plain OAuth',
        email: 'linked@example.com',
        last_used_at: expect.any(String),
      }),
    ]);
    expect(await cliJson(['user', 'identities', userId], env)).toEqual(identities);
    const human = await cli(['user', 'identities', userId], env);
    expect(human.stdout).toMatch(/^connection\s+display_name\s+email/);
    expect(human.stdout).toContain('doomed');
    expect(JSON.parse((await cli(['user', 'identities', 'nobody@example.com', '--json'], env)).stderr)).toMatchObject({
      error: 'not_found',
    });

    const deleted = await cli(['connection', 'delete', 'doomed'], env);
    expect(deleted.stdout).toBe('Deleted connection doomed; 1 linked identity removed.\n');
    expect(await cliJson(['user', 'identities', userId], env)).toEqual([]);
    expect((await connectionRows()).map((row) => row.name)).not.toContain('doomed');
    expect(await cliJson(['connection', 'delete', 'twice'], env)).toEqual({ name: 'twice', identities: 0 });
    expect(JSON.parse((await cli(['connection', 'delete', 'doomed', '--json'], env)).stderr)).toMatchObject({ error: 'not_found' });
  });
});

test('every connection command prints exactly one JSON document with --json, and nothing on stderr', async () => {
  const documents: [string[], string?][] = [
    [oauth2Args('json-doc'), SECRET],
    [['connection', 'list']],
    [['connection', 'show', 'json-doc']],
    [['connection', 'update', 'json-doc', '--disable']],
    [['user', 'identities', 'linked@example.com']],
    [['connection', 'delete', 'json-doc']],
  ];
  for (const [args, stdin] of documents) {
    const result = await cli([...args, '--json'], env, stdin);
    expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: '' });
    expect(result.stdout).toBe(`${JSON.stringify(JSON.parse(result.stdout), null, 2)}\n`);
  }
});
