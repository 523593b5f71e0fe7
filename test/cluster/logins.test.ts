// Login locks across the workers of one instance without Redis: the counts live in the primary,
// so a burst of wrong passwords spread over both workers gets no more password checks than the
// limit allows, exactly as on one process.
import * as client from 'openid-client';
import { openDatabase } from '../../src/db/index.ts';
import { cliJson } from '../support/cli.ts';
import { csrfFrom, formAction, pkceAuthorization, UserAgent } from '../support/browser.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort, startServeProcess, type ServeProcess } from '../support/process.ts';
import { testPepper } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8131/callback';
let testDatabase: TestDatabase;
let cluster: ServeProcess | undefined;

afterAll(async () => {
  await cluster?.stop(30_000);
  await testDatabase?.drop();
}, 60_000);

test('a burst of wrong passwords over both workers gets at most LOGIN_MAX_FAILURES checks', async () => {
  testDatabase = await createTestDatabase();
  const env = { DATABASE_URL: testDatabase.url, HASH_PEPPER: testPepper, NODE_ENV: 'development' };
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  cluster = await startServeProcess({ ...env, WORKERS: '2', PORT: String(port), ISSUER: base, LOGIN_MAX_FAILURES: '5' }, 60_000);
  await cliJson(['user', 'create', '--email', 'ada@example.com', '--password-stdin'], env, 'the right passphrase');
  const app = await cliJson<{ client_id: string }>(
    ['client', 'create', '--name', 'App', '--public', '--grant', 'authorization_code', '--redirect-uri', REDIRECT],
    env,
  );
  const config = await client.discovery(new URL(base), app.client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const agent = new UserAgent();
  const { url } = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
  const page = await agent.follow(url, REDIRECT);
  const action = formAction(page.body, '/login', page.url);
  const csrf = csrfFrom(page.body);

  // At once: the client opens a connection per request in flight, and the primary deals them out.
  const steps = await Promise.all(
    Array.from({ length: 24 }, () => agent.postLogin(action, { form: { csrf, email: 'ada@example.com', password: 'a wrong guess' } })),
  );
  expect(steps.filter((step) => step.status === 429).length).toBeGreaterThanOrEqual(19);

  const loginPosts = new Set(
    cluster
      .logs()
      .split('\n')
      .filter((line) => line.includes('"method":"POST"') && line.includes('/login'))
      .map((line) => (JSON.parse(line) as { worker: number }).worker),
  );
  expect(loginPosts).toEqual(new Set([1, 2]));
  // Each password really checked and wrong is one failed `login` event.
  const db = openDatabase(testDatabase.url);
  try {
    const checks = await db.prisma.auditEvent.count({ where: { type: 'login', subject: 'ada@example.com', outcome: 'failure' } });
    expect(checks).toBeGreaterThanOrEqual(1);
    expect(checks).toBeLessThanOrEqual(5);
  } finally {
    await db.close();
  }
}, 90_000);
