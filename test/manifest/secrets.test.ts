// Secrets in configuration as code, against a running server over real HTTP: a client's secret
// is named by reference (an environment variable, a file), read at apply time, never printed,
// stored only as its keyed hash, and is the secret the client then authenticates with at /token.
// A changed secret is applied once; the same secret again is no change. Portcullis's own admin
// API is the server's, not the file's.
import { cli, cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { auditTypes, manifestFolder, newSecret, snapshot } from './support.ts';

const ORDERS = 'https://orders.example';

let running: RunningServer;
const files = manifestFolder();
const first = { env: newSecret(), file: newSecret() };
let manifest: string;
const printed: string[] = [];

/** The CLI on the server's database, with `secret` in SVC_SECRET; everything it prints is kept to check for secrets. */
async function apply(args: string[], secret: string) {
  const result = await cli(['apply', '-f', manifest, ...args], { ...running.env, SVC_SECRET: secret });
  printed.push(result.stdout, result.stderr);
  return result;
}

async function token(clientId: string, secret: string): Promise<number> {
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
  const response = await fetch(`${running.url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: ORDERS, scope: 'orders:read' }),
  });
  return response.status;
}

beforeAll(async () => {
  running = await startServer();
  files.write('secrets/filed.txt', `${first.file}\n`);
  manifest = files.write(
    'manifest.yaml',
    [
      'portcullis: 1',
      'resources:',
      `  - audience: ${ORDERS}`,
      '    scope: orders:read',
      'clients:',
      '  - client_id: svc',
      '    name: Service',
      '    grant_types: [client_credentials]',
      '    scope: orders:read',
      '    client_secret: { from_env: SVC_SECRET }',
      '  - client_id: filed',
      '    name: Filed',
      '    grant_types: [client_credentials]',
      '    scope: orders:read',
      '    token_endpoint_auth_method: client_secret_post',
      '    client_secret: { from_file: secrets/filed.txt }',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  await running.stop();
  files.remove();
});

test('secrets by env and by file: applied, stored only hashed, and accepted at /token', async () => {
  const applied = await apply([], first.env);
  expect(applied.code).toBe(0);
  expect(applied.stdout).toContain('    client_secret: (from env SVC_SECRET)\n');
  expect(applied.stdout).toContain('    client_secret: (from file secrets/filed.txt)\n');
  const dump = await snapshot(running.env.DATABASE_URL!);
  expect(dump).not.toContain(first.env);
  expect(dump).not.toContain(first.file);
  const rows = await running.db.prisma.client.findMany({ where: { id: { in: ['svc', 'filed'] } } });
  expect(rows.map((row) => row.secretHash)).toEqual([expect.stringMatching(/^hmac-sha256:/), expect.stringMatching(/^hmac-sha256:/)]);
  expect(await token('svc', first.env)).toBe(200);
  expect(await token('svc', `${first.env}x`)).toBe(401);
  // client_secret_post: the secret in the body.
  const response = await fetch(`${running.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'filed', client_secret: first.file, resource: ORDERS }),
  });
  expect(response.status).toBe(200);
});

test('the same secret again is no change (compared by keyed hash)', async () => {
  const before = await snapshot(running.env.DATABASE_URL!);
  const again = await apply([], first.env);
  expect(again.stdout).toMatch(/^No changes/);
  expect(await snapshot(running.env.DATABASE_URL!)).toBe(before);
});

test('a changed secret is planned by reference, applied once, and replaces the old one at once', async () => {
  const second = newSecret();
  const dry = await apply(['--dry-run'], second);
  expect(dry.stdout).toBe(
    [
      '~ client svc',
      '    client_secret: (set) → (from env SVC_SECRET)',
      'Plan: 0 to create, 1 to update, 0 to delete; 2 unchanged.',
      'Dry run: nothing was changed.',
      '',
    ].join('\n'),
  );
  const before = (await auditTypes(running.env.DATABASE_URL!)).length;
  expect((await apply([], second)).code).toBe(0);
  expect((await auditTypes(running.env.DATABASE_URL!)).slice(before)).toEqual(['client.secret_set']);
  expect((await apply([], second)).stdout).toMatch(/^No changes/);
  // The server reuses a client's metadata for up to a second (CLIENT_CACHE_MS).
  await new Promise((resolve) => setTimeout(resolve, 1100));
  expect(await token('svc', second)).toBe(200);
  expect(await token('svc', first.env)).toBe(401);
  printed.push(second);
  expect(printed.slice(0, -1).join('')).not.toContain(second);
});

test('nothing apply printed holds a secret', () => {
  const output = printed.join('');
  expect(output).not.toContain(first.env);
  expect(output).not.toContain(first.file);
});

test("export leaves out Portcullis's own admin API, and a file may not name it", async () => {
  const audiences = (await cliJson<{ resources: { audience: string }[] }>(['export'], running.env)).resources.map(
    (resource) => resource.audience,
  );
  expect(audiences).toEqual([ORDERS]);
  const own = files.write('own.yaml', `portcullis: 1\nresources:\n  - audience: ${running.url}/admin\n    scope: admin:read\n`);
  const refused = await cli(['apply', '-f', own], running.env);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toBe(
    `portcullis: ${own}:3: resources[0].audience: is Portcullis's own admin API: the server makes it, and no file configures it\n`,
  );
  // Its scopes are known all the same: an admin client names them.
  const admin = files.write(
    'admin-client.yaml',
    `portcullis: 1\nclients:\n  - client_id: ops\n    name: Ops\n    grant_types: [client_credentials]\n    scope: admin:read\n    client_secret: { from_env: SVC_SECRET }\n`,
  );
  expect((await cli(['apply', '-f', admin, '--dry-run'], { ...running.env, SVC_SECRET: newSecret() })).stdout).toContain('+ client ops\n');
});
