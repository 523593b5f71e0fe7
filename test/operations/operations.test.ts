// What operators rely on: logs that never hold a secret, an audit event for every security-
// relevant thing, and a shutdown that finishes what it started.
import * as client from 'openid-client';
import { adminCaller } from '../support/admin.ts';
import { cliJson } from '../support/cli.ts';
import { signIn, UserAgent, basicAuth } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8126/callback';
const PASSWORD = 'operations passphrase';
let running: RunningServer;
const logs: string[] = [];
const secrets: string[] = [];

/** The CLI against this file's server, with --json; a failure throws. */
const run = (args: string[], stdin = '') => cliJson<Record<string, string>>(args, running.env, stdin);

beforeAll(async () => {
  running = await startServer({}, { logs });
  await run(['user', 'create', '--email', 'ops@example.com', '--password-stdin'], PASSWORD);
  secrets.push(PASSWORD);
  await run(['resource', 'create', '--audience', 'https://ops.example.com', '--scope', 'ops:read']);

  // A full login with refresh, reuse and revocation.
  const app = await run([
    'client',
    'create',
    '--name',
    'Ops App',
    '--grant',
    'authorization_code',
    '--grant',
    'refresh_token',
    '--redirect-uri',
    REDIRECT,
  ]);
  secrets.push(app.client_secret!);
  const config = await client.discovery(new URL(running.url), app.client_id!, app.client_secret!, undefined, {
    execute: [client.allowInsecureRequests],
  });
  const verifier = client.randomPKCECodeVerifier();
  const agent = new UserAgent();
  const failed = await signIn(
    agent,
    client
      .buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      })
      .toString(),
    {
      email: 'ops@example.com',
      password: 'wrong password here',
      redirectUri: REDIRECT,
    },
  );
  expect(failed.status).toBe(401);
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid offline_access',
    prompt: 'consent',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const step = await signIn(agent, url.toString(), { email: 'ops@example.com', password: PASSWORD, redirectUri: REDIRECT });
  secrets.push(new URL(step.location!).searchParams.get('code')!);
  const tokens = await client.authorizationCodeGrant(config, new URL(step.location!), { pkceCodeVerifier: verifier });
  secrets.push(tokens.access_token, tokens.refresh_token!, tokens.id_token!, verifier);
  const rotated = await client.refreshTokenGrant(config, tokens.refresh_token!);
  secrets.push(rotated.access_token, rotated.refresh_token!);
  await client.refreshTokenGrant(config, tokens.refresh_token!).catch(() => undefined); // reuse
  const again = await client.authorizationCodeGrant(
    config,
    new URL(
      (
        await signIn(
          agent,
          client
            .buildAuthorizationUrl(config, {
              redirect_uri: REDIRECT,
              scope: 'openid offline_access',
              prompt: 'consent',
              code_challenge: await client.calculatePKCECodeChallenge(verifier),
              code_challenge_method: 'S256',
            })
            .toString(),
          { email: 'ops@example.com', password: PASSWORD, redirectUri: REDIRECT },
        )
      ).location!,
    ),
    { pkceCodeVerifier: verifier },
  );
  // The person takes back the app's access on the account page.
  const accountPage = await agent.request(`${running.url}/account`);
  const revoke = /action="(\/account\/apps\/[^"]+\/revoke)"/.exec(accountPage.body)![1]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(accountPage.body)![1]!;
  // The list's button opens a confirmation (a GET form to the same path); the POST revokes and answers 303.
  const revoked = await agent.request(`${running.url}${revoke}`, { form: { csrf } });
  expect(revoked.status).toBe(303);
  expect((await agent.request(revoked.location!)).body).toContain('Access revoked');
  secrets.push(again.access_token, again.refresh_token!);
  await client.tokenRevocation(config, again.refresh_token!);
  for (const cookie of await agent.jar.getCookies(running.url)) secrets.push(cookie.value);

  // A service, an API key and the admin API.
  const service = await run(['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--scope', 'ops:read admin:write']);
  secrets.push(service.client_secret!);
  const basic = basicAuth(service.client_id, service.client_secret);
  const adminToken = (
    (await (
      await fetch(`${running.url}/token`, {
        method: 'POST',
        headers: basic,
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${running.url}/admin` }),
      })
    ).json()) as { access_token: string }
  ).access_token;
  secrets.push(adminToken);
  const created = (await (
    await fetch(`${running.url}/admin/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ops', scope: 'ops:read' }),
    })
  ).json()) as { id: string; key: string };
  secrets.push(created.key);
  await fetch(`${running.url}/token/introspection`, { method: 'POST', headers: basic, body: new URLSearchParams({ token: created.key }) });
  await fetch(`${running.url}/admin/api-keys/${created.id}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
  await fetch(`${running.url}/token/introspection`, { method: 'POST', headers: basic, body: new URLSearchParams({ token: created.key }) });
  await fetch(`${running.url}/admin/users`, { headers: { authorization: `Bearer ${adminToken}` } });
  const account = await agent.request(`${running.url}/account`);
  expect(account.status).toBe(200);

  // The rest of the changes an operator makes, through the admin API.
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${running.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  const second = (await (await call('POST', '/admin/api-keys', { name: 'second', scope: 'ops:read' })).json()) as {
    id: string;
    key: string;
  };
  secrets.push(second.key);
  const rotatedKey = (await (await call('POST', `/admin/api-keys/${second.id}/rotate`, { grace_seconds: 0 })).json()) as { key: string };
  secrets.push(rotatedKey.key);
  expect((await call('POST', '/admin/signing-keys/rotate', { force: true })).status).toBe(200);
  const spare = (await (await call('POST', '/admin/clients', { name: 'spare', grant_types: ['client_credentials'] })).json()) as {
    client_id: string;
    client_secret: string;
  };
  secrets.push(spare.client_secret);
  const rotatedSecret = (await (await call('POST', `/admin/clients/${spare.client_id}/secret`, { grace_seconds: 0 })).json()) as {
    client_secret: string;
  };
  secrets.push(rotatedSecret.client_secret);
  expect((await call('PATCH', `/admin/clients/${spare.client_id}`, { name: 'spare 2' })).status).toBe(200);
  expect((await call('DELETE', `/admin/clients/${spare.client_id}`)).status).toBe(204);
  const users = (await (await call('GET', '/admin/users')).json()) as { id: string; email: string }[];
  const ops = users.find((user) => user.email === 'ops@example.com')!;
  secrets.push('a brand new passphrase');
  expect((await call('POST', `/admin/users/${ops.id}/password`, { password: 'a brand new passphrase' })).status).toBe(204);
  expect((await call('POST', `/admin/users/${ops.id}/disable`)).status).toBe(200);
}, 60_000);
afterAll(() => running.stop());

test('the logs of all that hold request ids and no secret, token, code, cookie or password', () => {
  expect(logs.length).toBeGreaterThan(20);
  const text = logs.join('\n');
  expect(text).toMatch(/"requestId":"[0-9a-f-]{36}"/);
  for (const secret of secrets) {
    expect(secret.length).toBeGreaterThanOrEqual(8);
    expect(text).not.toContain(secret);
  }
});

test('every kind of security event is in the audit log, and none holds a secret', async () => {
  await running.server.services.auditAggregates.flush(); // failed key checks are counted per minute
  const events = (await running.server.services.audit.query({ limit: 500 })).events;
  const kinds = new Set(events.map((event) => `${event.type}:${event.outcome}`));
  for (const kind of [
    'login:success',
    'login:failure',
    'consent.given:success',
    'refresh_token.reused:failure',
    'token.revoked:success',
    'client.created:success',
    'user.created:success',
    'resource.created:success',
    'signing_key.created:success',
    'api_key.created:success',
    'api_key.revoked:success',
    'api_key.verification_failed:failure',
    'consent.revoked:success',
    'api_key.rotated:success',
    'signing_key.rotated:success',
    'client.updated:success',
    'client.deleted:success',
    'client.secret_rotated:success',
    'user.password_reset:success',
    'user.disabled:success',
  ]) {
    expect(kinds).toContain(kind);
  }
  const text = JSON.stringify(await running.db.prisma.auditEvent.findMany());
  for (const secret of secrets) expect(text).not.toContain(secret);
  const login = events.find((event) => event.type === 'login' && event.outcome === 'success')!;
  expect(login).toMatchObject({ ip: expect.any(String), userAgent: expect.any(String), actorType: 'user' });
});

test('a dump of every table holds no password, secret, key, token, code or private key', async () => {
  const tables =
    running.db.provider === 'sqlite'
      ? (await running.db.prisma.$queryRawUnsafe<{ name: string }[]>(`SELECT name FROM sqlite_master WHERE type = 'table'`)).map(
          (row) => row.name,
        )
      : (
          await running.db.prisma.$queryRawUnsafe<{ name: string }[]>(
            `SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public'`,
          )
        ).map((row) => row.name);
  expect(tables).toEqual(expect.arrayContaining(['User', 'Client', 'ProviderArtifact', 'SigningKey', 'ApiKey', 'AuditEvent']));
  let dump = '';
  for (const table of tables) {
    const rows = await running.db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(`SELECT * FROM "${table}"`);
    dump += JSON.stringify(rows, (_key, value) => (typeof value === 'bigint' ? value.toString() : value));
  }
  expect(dump.length).toBeGreaterThan(1000);
  for (const secret of secrets) expect(dump).not.toContain(secret);
  // Private signing keys: the `d` of each, from the decrypted JWE, appears nowhere.
  const { decryptPrivateJwk } = await import('../../src/crypto/index.ts');
  for (const key of await running.db.prisma.signingKey.findMany()) {
    const jwk = await decryptPrivateJwk(running.config.keyEncryptionKey, key.privateJwkEncrypted);
    expect(dump).not.toContain(jwk.d!);
  }
});

test('closing finishes the requests in flight and refuses new connections', async () => {
  const second = await startServer();
  try {
    const { token } = await adminCaller(second, 'admin:write');
    // Creating a user hashes a password with argon2id: slow enough to still be running at close.
    let received = 0;
    const allReceived = new Promise<void>((resolve) => second.httpServer.on('request', () => ++received === 4 && resolve()));
    const inFlight = [0, 1, 2, 3].map((i) =>
      fetch(`${second.url}/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ email: `late-${i}@example.com`, password: 'a long enough password' }),
      }),
    );
    await allReceived;
    const closing = second.server.close();
    const statuses = await Promise.all(inFlight.map(async (response) => (await response).status));
    await closing;
    expect(statuses).toEqual([201, 201, 201, 201]);
    expect(await second.db.prisma.user.count()).toBe(4);
    await expect(fetch(`${second.url}/healthz`)).rejects.toThrow();
  } finally {
    await second.db.close();
    await second.testDatabase.drop();
  }
});
