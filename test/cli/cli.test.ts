// The portcullis command line, run as a user types it, against a real database.
import { openDatabase } from '../../src/db/index.ts';
import { cli, cliJson } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { testPepper } from '../support/server.ts';

let testDatabase: TestDatabase;
let env: Record<string, string>;

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  env = { DATABASE_URL: testDatabase.url, HASH_PEPPER: testPepper, NODE_ENV: 'test' };
});
afterAll(() => testDatabase.drop());

async function dumpTable(table: 'client' | 'user'): Promise<string> {
  const db = openDatabase(testDatabase.url);
  try {
    return JSON.stringify(table === 'client' ? await db.prisma.client.findMany() : await db.prisma.user.findMany());
  } finally {
    await db.close();
  }
}

describe('migrate', () => {
  test('applies migrations and reports it, then reports nothing to do', async () => {
    await cliJson(['migrate'], env);
    expect(await cliJson(['migrate'], env)).toMatchObject({ applied: [], provider: testDatabase.provider });
    expect((await cli(['migrate'], env)).stdout).toMatch(/up to date/);
  });
});

describe('client', () => {
  test('create prints the id and a 256-bit secret once; the database keeps only its keyed hash', async () => {
    const created = await cliJson<{ client_id: string; client_secret: string }>(
      ['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--scope', 'read'],
      env,
    );
    expect(Object.keys(created).sort()).toEqual(['client_id', 'client_secret']);
    expect(created.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const dump = await dumpTable('client');
    expect(dump).toContain(created.client_id);
    expect(dump).not.toContain(created.client_secret);
    expect(dump).toContain('hmac-sha256:');
  });

  test('a public client gets no secret', async () => {
    const created = await cliJson(
      [
        'client',
        'create',
        '--name',
        'spa',
        '--public',
        '--grant',
        'authorization_code',
        '--grant',
        'refresh_token',
        '--redirect-uri',
        'http://localhost:5173/callback',
      ],
      env,
    );
    expect(Object.keys(created)).toEqual(['client_id']);
  });

  test.each([
    [['--name', 'x', '--json'], 'grant_types'],
    [['--name', 'x', '--grant', 'password', '--json'], 'grant_types'],
    [['--name', 'x', '--grant', 'authorization_code', '--json'], 'redirect_uris'],
    [['--name', 'x', '--grant', 'authorization_code', '--redirect-uri', 'http://evil.example/cb', '--json'], 'redirect_uris'],
    [['--name', 'x', '--grant', 'authorization_code', '--redirect-uri', 'https://app.example/cb#frag', '--json'], 'redirect_uris'],
    [['--name', 'x', '--grant', 'client_credentials', '--public', '--json'], 'grant_types'],
    [['--name', 'x', '--grant', 'client_credentials', '--scope', 'read "write"', '--json'], 'scope'],
    [['--name', ' ', '--grant', 'client_credentials', '--json'], 'name'],
  ])('create %j is refused, naming %s', async (args, field) => {
    const result = await cli(['client', 'create', ...args], env);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(JSON.parse(result.stderr)).toMatchObject({ error: 'invalid_input', field });
  });

  test('list shows clients and never a secret', async () => {
    const created = await cliJson<{ client_id: string; client_secret: string }>(
      ['client', 'create', '--name', 'lister', '--grant', 'client_credentials'],
      env,
    );
    const listed = await cli(['client', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    const clients = listed.json<{ client_id: string; name: string }[]>();
    expect(clients.find((c) => c.client_id === created.client_id)).toMatchObject({ name: 'lister', grant_types: ['client_credentials'] });
    expect(listed.stdout).not.toContain(created.client_secret);
    expect(listed.stdout).not.toContain('hmac-sha256');
    const human = await cli(['client', 'list'], env);
    expect(human.stdout).toMatch(/^client_id\s+name/);
    expect(human.stdout).toContain('lister');
  });
});

describe('user', () => {
  test('create reads the password from stdin and stores only an argon2id hash', async () => {
    const { id } = await cliJson<{ id: string }>(
      ['user', 'create', '--email', 'Ada@Example.com', '--name', 'Ada', '--password-stdin'],
      env,
      'a long passphrase\n',
    );
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const dump = await dumpTable('user');
    expect(dump).not.toContain('a long passphrase');
    expect(dump).toContain('$argon2id$');
    expect(dump).toContain('ada@example.com');
  });

  test('the same email twice is a conflict', async () => {
    await cliJson(['user', 'create', '--email', 'dup@example.com', '--password-stdin'], env, 'password-one');
    const again = await cli(['user', 'create', '--email', 'DUP@example.com', '--password-stdin', '--json'], env, 'password-two');
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: 'conflict' });
  });

  test.each([
    [['--email', 'not-an-email', '--password-stdin'], 'long enough password', 'email'],
    [['--email', 'short@example.com', '--password-stdin'], 'short', 'password'],
  ])('create %j is refused, naming the field', async (args, stdin, field) => {
    const result = await cli(['user', 'create', ...args, '--json'], env, stdin);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toMatchObject({ field });
  });

  test('a password on the command line is not accepted', async () => {
    const result = await cli(['user', 'create', '--email', 'x@example.com', '--json'], env, 'ignored password');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/password-stdin/);
  });

  test('list shows users without password hashes', async () => {
    const listed = await cli(['user', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    expect(listed.json<{ email: string }[]>().map((u) => u.email)).toContain('ada@example.com');
    expect(listed.stdout).not.toContain('argon2');
  });
});

describe('errors', () => {
  test('a bad configuration names the variable', async () => {
    const result = await cli(['client', 'list', '--json'], { ...env, HASH_PEPPER: 'short' });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toMatchObject({ error: 'invalid_configuration', problems: [{ variable: 'HASH_PEPPER' }] });
  });

  test('production refuses the built-in secrets', async () => {
    const result = await cli(['migrate'], { DATABASE_URL: testDatabase.url, NODE_ENV: 'production', ISSUER: 'https://id.example.com' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/COOKIE_KEYS: is a built-in development secret/);
    expect(result.stderr).toMatch(/KEY_ENCRYPTION_KEY/);
    expect(result.stderr).toMatch(/HASH_PEPPER/);
  });

  test('without --json a bad value names its field and the flag it came from', async () => {
    const result = await cli(['client', 'create', '--name', 'x'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('portcullis: grant_types (--grant): at least one grant type is required\n');
  });

  test('an unknown command or option fails with usage help', async () => {
    expect((await cli(['frobnicate'], env)).code).not.toBe(0);
    const missing = await cli(['client', 'create', '--json'], env);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/--name/);
  });
});
