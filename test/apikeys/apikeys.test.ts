// API keys end to end: create, introspect, exchange for a JWT, rate limits, revoke, expire,
// rotate, checksum rejection without a database query, and nothing usable at rest.
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { cli, cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { basicAuth } from '../support/browser.ts';

const API = 'https://billing.example.com';
const TOKEN_TYPE = 'urn:portcullis:params:oauth:token-type:api_key';
let running: RunningServer;
let as: oauth.AuthorizationServer;
let resourceServer: { client_id: string; client_secret: string };
let exchanger: { client_id: string };
let owner: { client_id: string; client_secret: string };
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** The CLI against this file's server, with --json; a failure throws. */
const run = (args: string[], stdin = '') => cliJson<Record<string, unknown>>(args, running.env, stdin);

beforeAll(async () => {
  running = await startServer();
  const issuer = new URL(running.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  await run(['resource', 'create', '--audience', API, '--scope', 'invoices:read invoices:write']);
  await run(['resource', 'create', '--audience', 'https://other.example.com', '--scope', 'other:read']);
  resourceServer = (await run(['client', 'create', '--name', 'billing-api', '--grant', 'client_credentials'])) as typeof resourceServer;
  exchanger = (await run([
    'client',
    'create',
    '--name',
    'key-exchanger',
    '--public',
    '--grant',
    'urn:ietf:params:oauth:grant-type:token-exchange',
    '--scope',
    'invoices:read invoices:write',
  ])) as typeof exchanger;
  owner = (await run(['client', 'create', '--name', 'integration', '--grant', 'client_credentials'])) as typeof owner;
});
afterAll(() => running.stop());

async function introspect(token: string) {
  return fetch(as.introspection_endpoint!, {
    method: 'POST',
    headers: basicAuth(resourceServer.client_id, resourceServer.client_secret),
    body: new URLSearchParams({ token }),
  });
}

async function exchange(key: string, parameters: Record<string, string> = {}) {
  return fetch(as.token_endpoint!, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      client_id: exchanger.client_id,
      subject_token: key,
      subject_token_type: TOKEN_TYPE,
      ...parameters,
    }),
  });
}

async function createKey(extra: string[] = []) {
  return (await run([
    'apikey',
    'create',
    '--name',
    'nightly export',
    '--scope',
    'invoices:read',
    '--audience',
    API,
    '--owner-client',
    owner.client_id,
    ...extra,
  ])) as {
    id: string;
    key: string;
  };
}

test('create prints the key once; introspection says active with scope, owner, audience and type', async () => {
  const { id, key } = await createKey();
  expect(key).toMatch(/^pcl_test_[0-9A-Za-z]{39}$/);
  const response = await introspect(key);
  expect(response.status).toBe(200);
  expect(await response.json()).toMatchObject({
    active: true,
    token_type: 'api_key',
    scope: 'invoices:read',
    sub: owner.client_id,
    client_id: owner.client_id,
    aud: API,
    api_key_id: id,
  });
  const listed = (await cli(['apikey', 'list', '--json'], running.env)).stdout;
  expect(listed).toContain(id);
  expect(listed).not.toContain(key);
  expect(listed).toContain(key.slice(0, 15));
});

test('introspection at a path oidc-provider also routes (trailing slash, other case) still answers for keys', async () => {
  const { key } = await createKey();
  for (const path of ['/token/introspection/', '/TOKEN/Introspection']) {
    const response = await fetch(`${running.url}${path}`, {
      method: 'POST',
      headers: basicAuth(resourceServer.client_id, resourceServer.client_secret),
      body: new URLSearchParams({ token: key }),
    });
    expect([path, response.status, await response.json()]).toEqual([
      path,
      200,
      expect.objectContaining({ active: true, token_type: 'api_key' }),
    ]);
  }
});

test('a key owned by a user introspects with that user as sub', async () => {
  const user = await run(['user', 'create', '--email', 'keys@example.com', '--password-stdin'], 'long enough password');
  const { key } = (await run(['apikey', 'create', '--name', 'mine', '--scope', 'invoices:read', '--owner-user', user.id as string])) as {
    key: string;
  };
  expect(await (await introspect(key)).json()).toMatchObject({ active: true, sub: user.id });
});

test('exchange gives a JWT for the API, scoped no wider than the key, verified against the JWKS', async () => {
  const { id, key } = await createKey();
  const response = await exchange(key, { resource: API });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string; issued_token_type: string; token_type: string; expires_in: number };
  expect(body).toMatchObject({ issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 900 });
  const { payload } = await jwtVerify(body.access_token, createRemoteJWKSet(new URL(as.jwks_uri!)), {
    issuer: running.url,
    audience: API,
    typ: 'at+jwt',
  });
  expect(payload).toMatchObject({ sub: owner.client_id, scope: 'invoices:read', client_id: exchanger.client_id, api_key_id: id });

  const wider = await exchange(key, { resource: API, scope: 'invoices:write' });
  expect(wider.status).toBe(400);
  expect(await wider.json()).toMatchObject({ error: 'invalid_scope' });
  const elsewhere = await exchange(key, { resource: 'https://other.example.com' });
  expect(elsewhere.status).toBe(400);
  expect(await elsewhere.json()).toMatchObject({ error: 'invalid_target' });
  const wrongType = await exchange(key, { subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
  expect(wrongType.status).toBe(400);
  expect(await wrongType.json()).toMatchObject({ error: 'invalid_request' });
  // A different last character (one in 64 keys already ends in 0).
  const bogus = await exchange(`${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`);
  expect(bogus.status).toBe(400);
  expect(await bogus.json()).toMatchObject({ error: 'invalid_grant' });
});

test('the rate limit answers 429 with Retry-After, then recovers', async () => {
  const { key } = await createKey(['--rate-limit', '3/5s']);
  for (let i = 0; i < 3; i += 1) expect((await introspect(key)).status).toBe(200);
  const limited = await introspect(key);
  expect(limited.status).toBe(429);
  expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(await limited.json()).toMatchObject({ error: 'rate_limited' });
  const limitedExchange = await exchange(key, { resource: API });
  expect(limitedExchange.status).toBe(429);
  expect(limitedExchange.headers.get('retry-after')).toBeTruthy();
  await new Promise((resolve) => setTimeout(resolve, 5100));
  expect((await introspect(key)).status).toBe(200);
});

test('a key revoked from another process (the CLI) stops working within one second', async () => {
  const { id, key } = await createKey();
  expect(await (await introspect(key)).json()).toMatchObject({ active: true });
  await run(['apikey', 'revoke', id]);
  const revokedAt = Date.now();
  let answer = (await (await introspect(key)).json()) as { active: boolean };
  while (answer.active && Date.now() - revokedAt < 3000) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    answer = (await (await introspect(key)).json()) as { active: boolean };
  }
  expect(answer).toEqual({ active: false });
  // Within one second of the revocation (the verification cache lives 0.9 s), plus a margin for a busy machine.
  expect(Date.now() - revokedAt).toBeLessThan(1500);
});

test('a key revoked through this server is inactive at once, and cannot be exchanged; the failure is audited', async () => {
  const { id, key } = await createKey();
  expect(await (await introspect(key)).json()).toMatchObject({ active: true });
  await running.server.services.apiKeys.revoke(id, { type: 'admin' });
  expect(await (await introspect(key)).json()).toEqual({ active: false });
  expect((await exchange(key, { resource: API })).status).toBe(400);
  await running.server.services.auditAggregates.flush(); // failures are counted per minute
  const events = (await running.server.services.audit.query({ limit: 500, type: 'api_key.verification_failed', subject: id })).events;
  expect(events.length).toBeGreaterThanOrEqual(1);
  expect(events[0]!.details).toMatchObject({ reason: 'revoked' });
  expect(JSON.stringify(events)).not.toContain(key);
});

test('an expired key is inactive', async () => {
  const { id, key } = await createKey(['--expires-in', '1h']);
  expect(await (await introspect(key)).json()).toMatchObject({ active: true, exp: expect.any(Number) });
  await running.db.prisma.apiKey.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 1000) } });
  await new Promise((resolve) => setTimeout(resolve, 1000)); // past the verification cache
  expect(await (await introspect(key)).json()).toEqual({ active: false });
});

test('rotation prints a new key; the old one works until the grace ends', async () => {
  const { id, key } = await createKey();
  const rotated = (await run(['apikey', 'rotate', id, '--grace', '1h'])) as { id: string; key: string; previous_key_expires_at: string };
  expect(rotated.key).not.toBe(key);
  expect(await (await introspect(key)).json()).toMatchObject({ active: true });
  expect(await (await introspect(rotated.key)).json()).toMatchObject({ active: true, scope: 'invoices:read', aud: API });
  const now = await run(['apikey', 'rotate', rotated.id, '--grace', '0']);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect(await (await introspect(rotated.key)).json()).toEqual({ active: false });
  expect(await (await introspect(now.key as string)).json()).toMatchObject({ active: true });
});

test('a malformed key (bad checksum) is refused without a database query', async () => {
  const { key } = await createKey();
  // The metrics say how each check ended: a malformed key ends before any lookup, an unknown
  // well-formed one after it.
  const outcomes = async () => {
    const text = await (await fetch(`${running.url}/metrics`)).text();
    const count = (outcome: string) =>
      Number(new RegExp(`portcullis_api_key_verifications_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    return { malformed: count('malformed'), unknown: count('unknown') };
  };
  const before = await outcomes();
  const typo = key.slice(0, 12) + (key[12] === 'a' ? 'b' : 'a') + key.slice(13);
  expect(await (await introspect(typo)).json()).toEqual({ active: false });
  expect(await (await exchange(typo, { resource: API })).json()).toMatchObject({ error: 'invalid_grant' });
  await introspect(`${key.slice(0, -6)}000000`);
  expect(await outcomes()).toEqual({ malformed: before.malformed + 3, unknown: before.unknown });
});

test('use is counted in batches: last used and use count reach the database', async () => {
  const { id, key } = await createKey();
  for (let i = 0; i < 3; i += 1) await introspect(key);
  // Nothing is written per request...
  const before = await running.db.prisma.apiKey.findUniqueOrThrow({ where: { id } });
  expect(before.useCount).toBe(0);
  // ...the batch brings all three.
  await running.server.services.apiKeys.flushUsage();
  const row = await running.db.prisma.apiKey.findUniqueOrThrow({ where: { id } });
  expect(row.useCount).toBe(3);
  expect(row.lastUsedAt).not.toBeNull();
});

test('bad input to apikey create names the field', async () => {
  for (const [args, field] of [
    [['--name', 'x', '--scope', 'invoices:read', '--audience', 'https://nowhere.example'], 'audiences'],
    [['--name', 'x', '--scope', 'payroll:read', '--audience', API], 'scope'],
    [['--name', 'x', '--scope', 'a', '--rate-limit', 'lots'], 'rate_limit'],
    [['--name', 'x', '--scope', 'a', '--expires-in', 'forever'], 'expires_in_seconds'],
    [['--name', 'x', '--scope', 'a', '--owner-user', 'ghost'], 'owner_user_id'],
  ] as const) {
    const result = await cli(['apikey', 'create', ...args, '--json'], running.env);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toMatchObject({ field });
  }
});

test('a database dump holds no API key, only hashes and display prefixes', async () => {
  const { key } = await createKey();
  const dump = JSON.stringify(await running.db.prisma.apiKey.findMany()) + JSON.stringify(await running.db.prisma.auditEvent.findMany());
  expect(dump).not.toContain(key);
  expect(dump).not.toContain(key.slice(9, 40));
  expect(dump).toContain(key.slice(0, 15));
});

test('an exchanged JWT never outlives its key, and stops introspecting as active when the key is revoked', async () => {
  const { id, key } = await createKey(['--expires-in', '120s']);
  const response = await exchange(key, { resource: API });
  const { access_token, expires_in } = (await response.json()) as { access_token: string; expires_in: number };
  expect(expires_in).toBeLessThanOrEqual(120);
  const { payload } = await jwtVerify(access_token, createRemoteJWKSet(new URL(as.jwks_uri!)), { issuer: running.url, audience: API });
  const keyExpiry = (await running.db.prisma.apiKey.findUniqueOrThrow({ where: { id } })).expiresAt!.getTime() / 1000;
  expect(payload.exp!).toBeLessThanOrEqual(Math.ceil(keyExpiry));
  expect(await (await introspect(access_token)).json()).toMatchObject({ active: true, api_key_id: id });
  await running.server.services.apiKeys.revoke(id, { type: 'admin' });
  expect(await (await introspect(access_token)).json()).toEqual({ active: false });
});

test("exchange is bounded by the exchanging client's registered scopes too", async () => {
  const narrow = (await run([
    'client',
    'create',
    '--name',
    'narrow',
    '--public',
    '--grant',
    'urn:ietf:params:oauth:grant-type:token-exchange',
    '--scope',
    'invoices:read',
  ])) as {
    client_id: string;
  };
  const { key } = (await run(['apikey', 'create', '--name', 'wide', '--scope', 'invoices:read invoices:write', '--audience', API])) as {
    key: string;
  };
  const response = await fetch(as.token_endpoint!, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      client_id: narrow.client_id,
      subject_token: key,
      subject_token_type: TOKEN_TYPE,
      resource: API,
      scope: 'invoices:write',
    }),
  });
  expect(response.status).toBe(400);
  expect(await response.json()).toMatchObject({ error: 'invalid_scope' });
});

test('rotation keeps the expiry; creation, rotation and revocation are audited without the key', async () => {
  const { id, key } = await createKey(['--expires-in', '30d']);
  const original = await running.db.prisma.apiKey.findUniqueOrThrow({ where: { id } });
  const rotated = (await run(['apikey', 'rotate', id, '--grace', '1h'])) as {
    id: string;
    key: string;
    expires_at: string;
    previous_key_expires_at: string;
  };
  expect(rotated.expires_at).toBe(original.expiresAt!.toISOString());
  expect(Date.parse(rotated.previous_key_expires_at) - Date.now()).toBeGreaterThan(3500_000);
  await run(['apikey', 'revoke', rotated.id]);
  const types = (await running.server.services.audit.query({ limit: 500 })).events
    .filter((event) => [id, rotated.id].includes(event.subject ?? ''))
    .map((event) => event.type);
  expect(types).toEqual(expect.arrayContaining(['api_key.created', 'api_key.rotated', 'api_key.revoked']));
  const everything = JSON.stringify(await running.db.prisma.auditEvent.findMany());
  expect(everything).not.toContain(key);
  expect(everything).not.toContain(rotated.key);
});

test("a disabled user's keys stop working", async () => {
  const user = await run(['user', 'create', '--email', 'leaver@example.com', '--password-stdin'], 'long enough password');
  const { key } = (await run(['apikey', 'create', '--name', 'theirs', '--scope', 'invoices:read', '--owner-user', user.id as string])) as {
    key: string;
  };
  expect(await (await introspect(key)).json()).toMatchObject({ active: true });
  await running.db.prisma.user.update({ where: { id: user.id as string }, data: { disabled: true } });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect(await (await introspect(key)).json()).toEqual({ active: false });
});
