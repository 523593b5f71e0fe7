// Two `portcullis serve` processes on one database behave as one server for signing keys: a
// rotation made from outside (the CLI) is picked up by both within their poll interval.
import { decodeProtectedHeader } from 'jose';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { cliJson } from '../support/cli.ts';
import { freePort, startServeProcess, type ServeProcess } from '../support/process.ts';
import { testPepper } from '../support/server.ts';
import { basicAuth } from '../support/browser.ts';

const API = 'https://inventory.example.com';
let testDatabase: TestDatabase;
let instances: ServeProcess[] = [];
let env: Record<string, string>;

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  env = {
    DATABASE_URL: testDatabase.url,
    HASH_PEPPER: testPepper,
    NODE_ENV: 'development',
    JWKS_MAX_AGE_SECONDS: '1',
    KEYS_POLL_INTERVAL_SECONDS: '1',
  };
}, 60_000);
afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.stop()));
  await testDatabase.drop();
}, 60_000);

test('a key rotation reaches every instance within its poll interval', async () => {
  // The issuer is the same public URL for both, as behind a load balancer.
  const issuer = 'http://127.0.0.1:9';
  const ports = [await freePort(), await freePort()];
  instances = await Promise.all(ports.map((port) => startServeProcess({ ...env, PORT: String(port), ISSUER: issuer })));
  await cliJson(['resource', 'create', '--audience', API, '--scope', 'stock:read'], env);
  const client = await cliJson<Record<string, string>>(
    ['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--scope', 'stock:read'],
    env,
  );

  const kidFrom = async (instance: ServeProcess) => {
    const port = new URL(instance.url).port;
    const response = await fetch(`http://127.0.0.1:${port}/token`, {
      method: 'POST',
      headers: basicAuth(client.client_id, client.client_secret),
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: API }),
    });
    expect(response.status).toBe(200);
    return decodeProtectedHeader(((await response.json()) as { access_token: string }).access_token).kid;
  };

  const before = await Promise.all(instances.map(kidFrom));
  expect(before[0]).toBe(before[1]);

  await new Promise((resolve) => setTimeout(resolve, 2100)); // the next key is now old enough (JWKS lifetime + poll interval)
  const rotated = await cliJson<Record<string, string>>(['keys', 'rotate'], env);
  expect(rotated.previous).toBe(before[0]);

  // Bounded wait: both instances must sign with the new key within a few poll intervals.
  const deadline = Date.now() + 10_000;
  let after = await Promise.all(instances.map(kidFrom));
  while (after.some((kid) => kid !== rotated.current) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    after = await Promise.all(instances.map(kidFrom));
  }
  expect(after).toEqual([rotated.current, rotated.current]);
  for (const instance of instances) {
    await instance.waitForLog(/signing keys changed; provider rebuilt/);
    expect(instance.logs()).toMatch(/signing keys changed; provider rebuilt/);
  }
}, 60_000);
