// WORKERS=2: one `portcullis serve` as a cluster (a primary and two workers on one port), seen
// from outside over real HTTP. Each request goes on a connection of its own, so the primary's
// round robin hands them to both workers; the request log names the worker that answered.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { cliJson } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort, runCommand, startServeProcess, type ServeProcess } from '../support/process.ts';
import { testPepper } from '../support/server.ts';
import { basicAuth } from '../support/browser.ts';

const API = 'https://stock.example.com';
let testDatabase: TestDatabase;
let cluster: ServeProcess;
let env: Record<string, string>;
let base: string;
let client: { client_id: string; client_secret: string };

/** One request on a new connection (no keep-alive), so consecutive requests reach different workers. */
function request(
  path: string,
  { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const outgoing = http.request(`${base}${path}`, { method, headers, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, text }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

const form = (values: Record<string, string>) => ({
  method: 'POST',
  headers: { ...basicAuth(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(values).toString(),
});

/** Asks the introspection endpoint about `token`, as the resource server `caller`. */
async function introspect(caller: { client_id: string; client_secret: string }, token: string) {
  const response = await request('/token/introspection', {
    method: 'POST',
    headers: { ...basicAuth(caller.client_id, caller.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  return JSON.parse(response.text) as { active: boolean };
}

/** The workers that logged a line matching `matches`, from the `since`-th character of the log on. */
function workersLogging(matches: (entry: { msg?: string; path?: string }) => boolean, since = 0): Set<number> {
  const workers = new Set<number>();
  for (const line of cluster.logs().slice(since).split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; path?: string; worker?: number };
    if (matches(entry) && entry.worker) workers.add(entry.worker);
  }
  return workers;
}

/** The workers that answered a request for `path`. */
const workersServing = (path: string, since = 0) => workersLogging((entry) => entry.msg === 'request' && entry.path === path, since);

/** The worker processes: the primary's children. */
function workerPids(): number[] {
  const pid = cluster.child.pid!;
  return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  env = {
    DATABASE_URL: testDatabase.url,
    HASH_PEPPER: testPepper,
    NODE_ENV: 'development',
    JWKS_MAX_AGE_SECONDS: '1',
    KEYS_POLL_INTERVAL_SECONDS: '1',
  };
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  cluster = await startServeProcess(
    { ...env, WORKERS: '2', PORT: String(port), ISSUER: base, TOKEN_RATE_LIMIT: '8/1m', LOG_LEVEL: 'debug' },
    60_000,
  );
  await cliJson(['resource', 'create', '--audience', API, '--scope', 'stock:read'], env);
  client = await cliJson(['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--scope', 'stock:read'], env);
}, 90_000);
afterAll(async () => {
  await cluster?.stop(30_000);
  await testDatabase.drop();
}, 60_000);

test('two workers serve the one port, and the primary serves nothing itself', async () => {
  expect(workerPids()).toHaveLength(2);
  for (let i = 0; i < 12; i += 1) expect((await request('/healthz')).status).toBe(200);
  expect(workersServing('/healthz')).toEqual(new Set([1, 2]));
});

test('/metrics adds up the requests every worker answered', async () => {
  const counted = async () => {
    const metrics = (await request('/metrics')).text;
    const line = metrics.split('\n').find((l) => l.startsWith('portcullis_http_requests_total{route="/readyz",method="GET",status="200"}'));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  const before = await counted();
  for (let i = 0; i < 10; i += 1) expect((await request('/readyz')).status).toBe(200);
  expect(workersServing('/readyz')).toEqual(new Set([1, 2]));
  expect((await counted()) - before).toBe(10);
});

test('the token endpoint limit is one count across the workers (kept by the primary without Redis)', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 16; i += 1)
    statuses.push((await request('/token', form({ grant_type: 'client_credentials', resource: API }))).status);
  expect(workersServing('/token')).toEqual(new Set([1, 2]));
  // 8 per minute for the client, wherever its requests land: not 8 per worker.
  expect(statuses.filter((status) => status === 200)).toHaveLength(8);
  expect(statuses.filter((status) => status === 429)).toHaveLength(8);
});

test('the purge and key rotation timers run in one worker only', async () => {
  await cluster.waitForLog(/timers started/);
  expect(cluster.logs().match(/timers started/g)).toHaveLength(1);
});

test('a key rotation reaches every worker within the poll interval', async () => {
  // Each worker's /readyz names the key it signs with.
  const signingKid = async () => (JSON.parse((await request('/readyz')).text) as { signing_kid: string }).signing_kid;
  await new Promise((resolve) => setTimeout(resolve, 2100)); // the next key is old enough to sign
  const before = await signingKid();
  const since = cluster.logs().length;
  const rotated = await cliJson<{ current: string; previous: string }>(['keys', 'rotate'], env);
  expect(rotated.previous).toBe(before);
  const deadline = Date.now() + 10_000;
  let kids: string[];
  do {
    kids = [await signingKid(), await signingKid(), await signingKid(), await signingKid()];
  } while (kids.some((kid) => kid !== rotated.current) && Date.now() < deadline);
  expect(kids).toEqual(Array(4).fill(rotated.current));
  expect(workersServing('/readyz', since)).toEqual(new Set([1, 2]));
  // Each worker found the rotation in the database itself.
  expect(workersLogging((entry) => entry.msg === 'signing keys changed; provider rebuilt', since)).toEqual(new Set([1, 2]));
}, 30_000);

test('a revocation made elsewhere reaches every worker within the second its cache promises', async () => {
  const resourceServer = await cliJson<typeof client>(['client', 'create', '--name', 'checker', '--grant', 'client_credentials'], env);
  const key = await cliJson<{ id: string; key: string }>(
    ['apikey', 'create', '--name', 'short-lived', '--scope', 'stock:read', '--audience', API, '--owner-client', client.client_id],
    env,
  );
  const active = async () => (await introspect(resourceServer, key.key)).active;
  let since = cluster.logs().length;
  // Both workers now hold the key's check in their caches.
  for (let i = 0; i < 6; i += 1) expect(await active()).toBe(true);
  expect(workersServing('/token/introspection', since)).toEqual(new Set([1, 2]));
  await cliJson(['apikey', 'revoke', key.id], env);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  since = cluster.logs().length;
  for (let i = 0; i < 6; i += 1) expect(await active()).toBe(false);
  expect(workersServing('/token/introspection', since)).toEqual(new Set([1, 2]));
});

test('workers that die are replaced, even all of them at once, and the port keeps answering', async () => {
  const [victim] = workerPids();
  process.kill(victim!, 'SIGKILL');
  await cluster.waitForLog(/a worker exited; starting another/, 10_000);
  await cluster.waitForLog(/the replacement worker is listening/, 20_000);
  expect(cluster.logs()).toMatch(/the replacement worker is listening/);
  expect(workerPids()).toHaveLength(2);
  expect(workerPids()).not.toContain(victim);
  for (let i = 0; i < 6; i += 1) expect((await request('/healthz')).status).toBe(200);

  // With no worker left, the primary itself stays up to replace them.
  const all = workerPids();
  const since = cluster.logs().length;
  for (const pid of all) process.kill(pid, 'SIGKILL');
  const replaced = () =>
    cluster
      .logs()
      .slice(since)
      .match(/the replacement worker is listening/g)?.length ?? 0;
  for (const deadline = Date.now() + 30_000; replaced() < 2 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 100));
  expect(replaced()).toBe(2);
  expect(workerPids().filter((pid) => all.includes(pid))).toEqual([]);
  for (let i = 0; i < 6; i += 1) expect((await request('/healthz')).status).toBe(200);
}, 60_000);

test('API-key checks counted in every worker all reach the database, and SIGTERM drains every worker', async () => {
  const resourceServer = await cliJson<typeof client>(['client', 'create', '--name', 'stock-api', '--grant', 'client_credentials'], env);
  const key = await cliJson<{ id: string; key: string }>(
    ['apikey', 'create', '--name', 'export', '--scope', 'stock:read', '--audience', API, '--owner-client', client.client_id],
    env,
  );
  const since = cluster.logs().length;
  for (let i = 0; i < 30; i += 1) expect(await introspect(resourceServer, key.key)).toMatchObject({ active: true });
  expect(workersServing('/token/introspection', since)).toEqual(new Set([1, 2]));
  const workers = workerPids();
  expect(await cluster.stop(30_000)).toBe(0);
  for (const pid of workers) expect(alive(pid)).toBe(false);
  const keys = await cliJson<{ id: string; use_count: number }[]>(['apikey', 'list'], env);
  expect(keys.find((k) => k.id === key.id)?.use_count).toBe(30);
}, 60_000);

test.each([['0'], ['-1'], ['two'], ['1.5'], ['257']])('WORKERS=%s is refused at start, naming the variable', async (workers) => {
  const result = await runCommand(['serve'], { ...env, WORKERS: workers, PORT: '0' });
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/WORKERS: a number from 1 to 256, or auto/);
});

test('a worker that cannot start (the port is taken) stops the whole start with exit code 1', async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  try {
    const port = (taken.address() as net.AddressInfo).port;
    const result = await runCommand(['serve'], { ...env, WORKERS: '2', PORT: String(port), HOST: '127.0.0.1' }, '', 60_000);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/"msg":"a worker failed to start; stopping"/);
    expect(result.stderr).toMatch(/EADDRINUSE/);
  } finally {
    await new Promise<void>((resolve) => taken.close(() => resolve()));
  }
}, 70_000);
