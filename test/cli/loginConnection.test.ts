// A client's login_connection on the command line, run as an operator types it against a real
// database: `client create --login-connection`, `client update --login-connection` and
// `--no-login-connection`, `client show`, and a bad name refused with its field and flag.
import { cli, cliJson } from '../support/cli.ts';
import { startServices, type TestServices } from '../support/services.ts';
import { testPepper } from '../support/server.ts';

let running: TestServices;
let env: Record<string, string>;

beforeAll(async () => {
  running = await startServices();
  env = { DATABASE_URL: running.config.databaseUrl, HASH_PEPPER: testPepper, NODE_ENV: 'test', ISSUER: running.config.issuer };
});
afterAll(() => running.stop());

/** The stored metadata, read from the table (the services here cache a client for a second; the CLI's are its own). */
async function stored(clientId: string) {
  const row = await running.db.prisma.client.findUniqueOrThrow({ where: { id: clientId } });
  return row.metadata as Record<string, unknown>;
}

const web = ['--grant', 'authorization_code', '--redirect-uri', 'https://app.example.com/cb'];

test('create --login-connection; show says it; update changes it, keeps it, and --no-login-connection clears it', async () => {
  const { client_id } = await cliJson<{ client_id: string }>(
    ['client', 'create', '--name', 'sso', ...web, '--login-connection', 'acme-sso'],
    env,
  );
  expect(await cliJson(['client', 'show', client_id], env)).toMatchObject({ client_id, login_connection: 'acme-sso' });
  expect((await cli(['client', 'show', client_id], env)).stdout).toMatch(/^login_connection: +acme-sso$/m);
  expect((await stored(client_id)).login_connection).toBe('acme-sso');

  expect(await cliJson(['client', 'update', client_id, '--login-connection', 'github'], env)).toMatchObject({ login_connection: 'github' });
  expect(await cliJson(['client', 'update', client_id, '--name', 'renamed'], env)).toMatchObject({
    name: 'renamed',
    login_connection: 'github',
  });
  expect(await cliJson(['client', 'update', client_id, '--no-login-connection'], env)).toMatchObject({ login_connection: null });
  expect(await stored(client_id)).not.toHaveProperty('login_connection');
  expect((await cli(['client', 'show', client_id], env)).stdout).toMatch(/^login_connection:$/m);
});

test('none unless asked for', async () => {
  const { client_id } = await cliJson<{ client_id: string }>(['client', 'create', '--name', 'plain', ...web], env);
  expect(await cliJson(['client', 'show', client_id], env)).toMatchObject({ login_connection: null });
});

test('a name that is not a connection name is refused with the field and its flag, on create and update, changing nothing', async () => {
  const before = (await running.services.clients.list()).length;
  const created = await cli(['client', 'create', '--name', 'bad', ...web, '--login-connection', 'Acme SSO'], env);
  expect(created.code).toBe(1);
  expect(created.stderr).toMatch(/^portcullis: login_connection \(--login-connection\): must be 1 to 63 lowercase letters/);
  expect((await running.services.clients.list()).length).toBe(before);

  const { client_id } = await cliJson<{ client_id: string }>(
    ['client', 'create', '--name', 'good', ...web, '--login-connection', 'acme'],
    env,
  );
  const updated = await cli(['client', 'update', client_id, '--login-connection', '-acme', '--json'], env);
  expect(updated.code).toBe(1);
  expect(JSON.parse(updated.stderr)).toMatchObject({ error: 'invalid_input', field: 'login_connection' });
  expect(await cliJson(['client', 'show', client_id], env)).toMatchObject({ login_connection: 'acme' });
});
