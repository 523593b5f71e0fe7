// Crash safety: what a response reported as created survives a kill -9 of the server right
// after it. Real processes, the same database before and after.
import * as client from 'openid-client';
import { basicAuth, logInWithCode } from '../support/browser.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort, runCommand, startServeProcess, type ServeProcess } from '../support/process.ts';
import { testPepper } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8129/callback';
let testDatabase: TestDatabase;
let serve: ServeProcess | undefined;

afterAll(async () => {
  await serve?.stop();
  await testDatabase?.drop();
});

test('a client, an API key and a refresh token reported as created survive kill -9', async () => {
  testDatabase = await createTestDatabase();
  const port = await freePort();
  const env = {
    DATABASE_URL: testDatabase.url,
    HASH_PEPPER: testPepper,
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    NODE_ENV: 'development',
  };
  const run = async (args: string[], stdin = '') =>
    JSON.parse((await runCommand([...args, '--json'], env, stdin)).stdout) as Record<string, string>;
  await run(['user', 'create', '--email', 'crash@example.com', '--password-stdin'], 'crash test passphrase');
  const ops = await run(['client', 'create', '--name', 'ops', '--grant', 'client_credentials', '--scope', 'admin:write']);
  const app = await run([
    'client',
    'create',
    '--name',
    'app',
    '--grant',
    'authorization_code',
    '--grant',
    'refresh_token',
    '--redirect-uri',
    REDIRECT,
  ]);
  serve = await startServeProcess(env);
  const url = serve.url;

  // A refresh token, from a real login.
  const config = await client.discovery(new URL(url), app.client_id!, app.client_secret!, undefined, {
    execute: [client.allowInsecureRequests],
  });
  const { tokens } = await logInWithCode(
    config,
    { scope: 'openid offline_access', prompt: 'consent' },
    { email: 'crash@example.com', password: 'crash test passphrase', redirectUri: REDIRECT },
  );

  // A client and an API key, through the admin API.
  const admin = (
    (await (
      await fetch(`${url}/token`, {
        method: 'POST',
        headers: basicAuth(ops.client_id, ops.client_secret),
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${url}/admin` }),
      })
    ).json()) as { access_token: string }
  ).access_token;
  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const created = await post('/admin/clients', { name: 'late', grant_types: ['client_credentials'] });
  expect(created.status).toBe(201);
  const late = (await created.json()) as { client_id: string; client_secret: string };
  const keyResponse = await post('/admin/api-keys', { name: 'late key', scope: 'x' });
  expect(keyResponse.status).toBe(201);
  const { key } = (await keyResponse.json()) as { key: string };

  // Straight after the last response: no shutdown, no flush, nothing.
  serve.child.kill('SIGKILL');
  await new Promise((resolve) => serve!.child.once('exit', resolve));
  serve = await startServeProcess(env);

  const lateToken = await fetch(`${serve.url}/token`, {
    method: 'POST',
    headers: basicAuth(late.client_id, late.client_secret),
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  expect(lateToken.status).toBe(200);
  const introspection = await fetch(`${serve.url}/token/introspection`, {
    method: 'POST',
    headers: basicAuth(late.client_id, late.client_secret),
    body: new URLSearchParams({ token: key }),
  });
  expect(await introspection.json()).toMatchObject({ active: true });
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.access_token).toBeDefined();
}, 90_000);
