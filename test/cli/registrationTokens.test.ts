// `portcullis client registration-token …` as an operator types it, against a real database: the
// initial access tokens of dynamic client registration (RFC 7591), printed once, kept only as
// keyed hashes, with their expiry, uses and allowance.
import { openDatabase } from '../../src/db/index.ts';
import { cli, cliJson } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { testPepper } from '../support/server.ts';

let testDatabase: TestDatabase;
let env: Record<string, string>;

interface Made {
  id: string;
  token: string;
  grant_types: string[];
  scope: string;
  expires_at: string | null;
  uses_left: number | null;
  uses: number;
  created_at: string;
}

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  env = { DATABASE_URL: testDatabase.url, HASH_PEPPER: testPepper, NODE_ENV: 'test' };
  await cliJson(['migrate'], env);
});
afterAll(() => testDatabase.drop());

async function tokenRows() {
  const db = openDatabase(testDatabase.url);
  try {
    return await db.prisma.initialAccessToken.findMany();
  } finally {
    await db.close();
  }
}

describe('client registration-token', () => {
  test('create prints a 256-bit token once; the database keeps only its keyed hash', async () => {
    const before = Date.now();
    const made = await cliJson<Made>(
      ['client', 'registration-token', 'create', '--expires-in', '7d', '--uses', '3', '--scope', 'notes:read'],
      env,
    );
    expect(made).toMatchObject({ uses_left: 3, uses: 0, grant_types: ['authorization_code', 'refresh_token'], scope: 'notes:read' });
    expect(made.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const lifetime = Date.parse(made.expires_at!) - before;
    expect(lifetime).toBeGreaterThanOrEqual(7 * 86_400_000 - 1000);
    expect(lifetime).toBeLessThanOrEqual(7 * 86_400_000 + 60_000);
    const rows = JSON.stringify(await tokenRows());
    expect(rows).toContain(made.id);
    expect(rows).not.toContain(made.token);
  });

  test('defaults: no expiry, no limit on uses, the code and refresh grants, no API scope; --grant repeats', async () => {
    const plain = await cliJson<Made>(['client', 'registration-token', 'create'], env);
    expect(plain).toMatchObject({ expires_at: null, uses_left: null, grant_types: ['authorization_code', 'refresh_token'], scope: '' });
    const services = await cliJson<Made>(
      ['client', 'registration-token', 'create', '--grant', 'client_credentials', '--grant', 'client_credentials', '--scope', 'b a b'],
      env,
    );
    expect(services).toMatchObject({ grant_types: ['client_credentials'], scope: 'b a' });
  });

  test('list shows every token without the token; delete removes one', async () => {
    const made = await cliJson<Made>(['client', 'registration-token', 'create', '--uses', '1'], env);
    const listed = await cliJson<Record<string, unknown>[]>(['client', 'registration-token', 'list'], env);
    expect(listed).toEqual(expect.arrayContaining([expect.objectContaining({ id: made.id, uses_left: 1 })]));
    expect(listed.every((item) => !('token' in item) && !('tokenHash' in item))).toBe(true);
    expect(JSON.stringify(listed)).not.toContain(made.token);
    const human = await cli(['client', 'registration-token', 'list'], env);
    expect(human.stdout).toMatch(/^id\s+grant_types/);
    expect(human.stdout).not.toContain(made.token);

    expect(await cliJson(['client', 'registration-token', 'delete', made.id], env)).toEqual({ id: made.id, deleted: true });
    expect((await tokenRows()).map((row) => row.id)).not.toContain(made.id);
    const again = await cli(['client', 'registration-token', 'delete', made.id, '--json'], env);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: 'not_found' });
  });

  test.each([
    [['--uses', '0'], 'uses'],
    [['--uses', 'three'], 'uses'],
    [['--uses', '2.5'], 'uses'],
    [['--expires-in', 'soon'], 'expires_in_seconds'],
    [['--expires-in', '10s'], 'expires_in_seconds'],
    [['--expires-in', '400d'], 'expires_in_seconds'],
    [['--grant', 'password'], 'grant_types'],
    [['--scope', 'a"b'], 'scope'],
  ])('create %j is refused, naming %s', async (args, field) => {
    const before = (await tokenRows()).length;
    const result = await cli(['client', 'registration-token', 'create', ...args, '--json'], env);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toMatchObject({ error: 'invalid_input', field });
    expect((await tokenRows()).length).toBe(before);
  });

  test('without --json a bad value names its field and the flag, and the token is printed for people', async () => {
    const refused = await cli(['client', 'registration-token', 'create', '--uses', 'many'], env);
    expect(refused.stderr).toBe('portcullis: uses (--uses): "many" is not a whole number\n');
    const made = await cli(['client', 'registration-token', 'create', '--uses', '2'], env);
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/^id: {4}\S+\ntoken: [A-Za-z0-9_-]{43}\n/);
    expect(made.stdout).toMatch(/shown only now/);
  });
});
