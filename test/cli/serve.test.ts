// The whole path a newcomer takes, in real processes: `portcullis serve` starts on an empty
// database, `portcullis client create` registers a service, and the service gets a token
// with HTTP Basic. Then SIGTERM stops the server cleanly.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort, runCommand, startServeProcess, type ServeProcess } from '../support/process.ts';
import { testPepper } from '../support/server.ts';
import { basicAuth } from '../support/browser.ts';

let testDatabase: TestDatabase;
let serve: ServeProcess | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  const port = await freePort();
  env = {
    DATABASE_URL: testDatabase.url,
    HASH_PEPPER: testPepper,
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    NODE_ENV: 'development',
  };
});
afterAll(async () => {
  await serve?.stop();
  await testDatabase.drop();
});

test('serve on an empty database, create a client with the CLI, get a token with Basic auth, stop on SIGTERM', async () => {
  serve = await startServeProcess(env);
  expect(serve.url).toBe(env.ISSUER);
  expect(serve.logs()).toMatch(/applied database migrations/);
  expect(serve.logs()).toMatch(/created signing keys/);
  // The built-in secrets are in use (HASH_PEPPER was set): every such start says so.
  expect(serve.logs()).toMatch(/"level":40.*"variables":\["COOKIE_KEYS","KEY_ENCRYPTION_KEY"\].*built-in development secrets/);

  const discovery = (await (await fetch(`${serve.url}/.well-known/openid-configuration`)).json()) as {
    issuer: string;
    token_endpoint: string;
  };
  expect(discovery.issuer).toBe(env.ISSUER);

  const created = await runCommand(
    ['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--scope', 'read', '--json'],
    env,
  );
  expect(created.code).toBe(0);
  const { client_id, client_secret } = JSON.parse(created.stdout) as { client_id: string; client_secret: string };

  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: {
      ...basicAuth(encodeURIComponent(client_id), encodeURIComponent(client_secret)),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  expect(response.status).toBe(200);
  const token = (await response.json()) as { access_token: string };
  expect(token).toMatchObject({ token_type: 'Bearer', scope: 'read', expires_in: 900 });

  // The logs of all this hold neither the secret nor the token.
  // The request's log line is written as the response ends; give the pipe a moment (bounded).
  await serve.waitForLog(/"path":"\/token","status":200/);
  expect(serve.logs()).toMatch(/"path":"\/token","status":200/);
  expect(serve.logs()).not.toContain(client_secret);
  expect(serve.logs()).not.toContain(token.access_token);

  expect(await serve.stop()).toBe(0);
  expect(serve.logs()).toMatch(/shutting down/);
});

test('serve refuses to start in production with built-in secrets, naming them', async () => {
  const result = await runCommand(['serve'], { ...env, NODE_ENV: 'production', ISSUER: 'https://id.example.com' });
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/COOKIE_KEYS: is a built-in development secret/);
  expect(result.stderr).toMatch(/KEY_ENCRYPTION_KEY: is a built-in development secret/);
  expect(result.stderr).not.toMatch(/HASH_PEPPER/); // this one was set
});

test('serve refuses the built-in secrets for a non-loopback issuer whatever NODE_ENV says', async () => {
  const result = await runCommand(['serve'], { ...env, NODE_ENV: 'development', ISSUER: 'https://id.example.com' });
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/COOKIE_KEYS: is a built-in development secret, which only a loopback issuer may use/);
  expect(result.stderr).toMatch(/KEY_ENCRYPTION_KEY: is a built-in development secret/);
});
