// What an operator sees of a running server: GET / names the issuer, MANAGEMENT_PORT moves the
// operational endpoints off the public port, and the log reads as JSON lines when piped and as
// lines for people when asked (LOG_FORMAT=pretty), opening with what is running and what to try.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort, startServeProcess, type ServeProcess } from '../support/process.ts';
import { testPepper } from '../support/server.ts';

let testDatabase: TestDatabase;
let serve: ServeProcess | undefined;
let env: Record<string, string>;
let managementPort: number;

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  const port = await freePort();
  managementPort = await freePort();
  env = {
    DATABASE_URL: testDatabase.url,
    HASH_PEPPER: testPepper,
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    NODE_ENV: 'development',
  };
  serve = await startServeProcess({ ...env, MANAGEMENT_PORT: String(managementPort) });
}, 60_000);
afterAll(async () => {
  await serve?.stop();
  await testDatabase.drop();
});

test('GET / answers a page naming the issuer and its discovery document, or JSON when asked', async () => {
  const page = await fetch(`${env.ISSUER}/`, { headers: { accept: 'text/html' } });
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  expect(page.headers.get('vary')).toMatch(/Accept/i);
  const html = await page.text();
  expect(html).toContain(`<code>${env.ISSUER}</code>`);
  expect(html).toContain(`href="${env.ISSUER}/.well-known/openid-configuration"`);

  const json = await fetch(`${env.ISSUER}/`, { headers: { accept: 'application/json' } });
  expect(await json.json()).toEqual({
    issuer: env.ISSUER,
    openid_configuration: `${env.ISSUER}/.well-known/openid-configuration`,
    oauth_authorization_server: `${env.ISSUER}/.well-known/oauth-authorization-server`,
    jwks_uri: `${env.ISSUER}/jwks`,
  });
  const discovery = (await (await fetch(`${env.ISSUER}/.well-known/openid-configuration`)).json()) as { issuer: string };
  expect(discovery.issuer).toBe(env.ISSUER);
});

test('with MANAGEMENT_PORT, /metrics and the health checks are served there and not on the public port', async () => {
  const management = `http://127.0.0.1:${managementPort}`;
  expect(serve!.logs()).toContain(`"management":"${management}"`);
  for (const operational of ['/metrics', '/healthz', '/readyz']) {
    expect((await fetch(`${management}${operational}`)).status).toBe(200);
    expect((await fetch(`${env.ISSUER}${operational}`)).status).toBe(404);
  }
  expect(await (await fetch(`${management}/metrics`)).text()).toMatch(/^portcullis_http_requests_total\{route="discovery"/m);
  const elsewhere = await fetch(`${management}/token`, { method: 'POST' });
  expect(elsewhere.status).toBe(404);
  expect(await elsewhere.json()).toMatchObject({ error: 'not_found' });
  // The public port serves OAuth as before.
  expect((await fetch(`${env.ISSUER}/jwks`)).status).toBe(200);
});

test('piped, the log is JSON lines that open with what is running, and warn about the built-in secrets', () => {
  const lines = serve!
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(lines[0]).toMatchObject({ msg: expect.stringMatching(/^Portcullis .* starting/), issuer: env.ISSUER, workers: 1 });
  expect(String(lines[0]!.database)).toMatch(/SQLite|PostgreSQL/);
  expect(lines[1]).toMatchObject({ level: 40, variables: ['COOKIE_KEYS', 'KEY_ENCRYPTION_KEY'] });
  const listening = lines.findIndex((line) => line.msg === 'listening');
  expect(lines[listening + 1]?.msg).toMatch(/npx portcullis demo/);
});

test('LOG_FORMAT=pretty writes lines for people', async () => {
  const root = path.resolve(import.meta.dirname, '../..');
  const port = await freePort();
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    cwd: root,
    env: { ...inherited, ...env, PORT: String(port), ISSUER: `http://127.0.0.1:${port}`, LOG_FORMAT: 'pretty', HOST: '127.0.0.1' },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  for (const deadline = Date.now() + 30_000; !/INFO: listening/.test(output) && Date.now() < deadline;)
    await new Promise((r) => setTimeout(r, 50));
  await fetch(`http://127.0.0.1:${port}/jwks`);
  for (const deadline = Date.now() + 5_000; !/GET \/jwks 200/.test(output) && Date.now() < deadline;)
    await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  const lines = output.split('\n').filter(Boolean);
  expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: Portcullis .* starting: issuer http:\/\/127\.0\.0\.1:\d+, database .*, 1 process/);
  expect(lines[1]).toMatch(/WARN: using the built-in development secrets/);
  expect(output).toMatch(/INFO: GET \/jwks 200 [\d.]+ ms/);
  expect(lines.some((line) => line.startsWith('{'))).toBe(false);
}, 60_000);
