// Signing-key lifecycle over HTTP: next -> current -> previous -> retired, the JWKS's caching
// headers, and rotation taking effect in a running server without a restart.
import * as oauth from 'oauth4webapi';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { basicAuth } from '../support/browser.ts';

const API = 'https://ledger.example.com';
let running: RunningServer;
let as: oauth.AuthorizationServer;
let service: { client_id: string; client_secret: string };
const insecure = { [oauth.allowInsecureRequests]: true } as const;

beforeAll(async () => {
  // A one-second JWKS lifetime and poll interval keep the waits short.
  running = await startServer({ JWKS_MAX_AGE_SECONDS: '1', KEYS_POLL_INTERVAL_SECONDS: '1' });
  const issuer = new URL(running.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  await cli(['resource', 'create', '--audience', API, '--scope', 'ledger:read', '--json'], running.env);
  service = (
    await cli(['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--scope', 'ledger:read', '--json'], running.env)
  ).json();
});
afterAll(() => running.stop());

async function issueToken(): Promise<string> {
  const response = await oauth.clientCredentialsGrantRequest(
    as,
    { client_id: service.client_id },
    oauth.ClientSecretBasic(service.client_secret),
    new URLSearchParams({ resource: API }),
    insecure,
  );
  return (await oauth.processClientCredentialsResponse(as, { client_id: service.client_id }, response)).access_token;
}

async function publishedJwks(): Promise<JSONWebKeySet> {
  return (await (await fetch(`${running.url}/jwks`)).json()) as JSONWebKeySet;
}

async function keyStates(): Promise<Record<string, string>> {
  const keys = (await cli(['keys', 'list', '--json'], running.env)).json<{ kid: string; state: string }[]>();
  return Object.fromEntries(keys.map((key) => [key.kid, key.state]));
}

/** Polls until `check` passes or the time is up (bounded: never more than `ms`). */
async function eventually<T>(check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the JWKS is cacheable: max-age, a strong ETag, and 304 for If-None-Match', async () => {
  const first = await fetch(`${running.url}/jwks`);
  expect(first.headers.get('cache-control')).toBe('public, max-age=1');
  expect(first.headers.get('content-type')).toMatch(/^application\/jwk-set\+json/);
  const etag = first.headers.get('etag');
  expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
  const again = await fetch(`${running.url}/jwks`, { headers: { 'if-none-match': etag! } });
  expect(again.status).toBe(304);
  expect(await again.text()).toBe('');
  const other = await fetch(`${running.url}/jwks`, { headers: { 'if-none-match': '"something-else"' } });
  expect(other.status).toBe(200);
});

test('rotation is refused while the next key is newer than the JWKS cache lifetime', async () => {
  await running.db.prisma.signingKey.updateMany({ where: { state: 'next' }, data: { createdAt: new Date() } });
  const result = await cli(['keys', 'rotate', '--json'], running.env);
  expect(result.code).toBe(1);
  expect(JSON.parse(result.stderr)).toMatchObject({ error: 'key_rotation_refused' });
  expect(Object.values(await keyStates()).sort()).toEqual(['current', 'next']);
});

test('a rotation takes effect in the running server: old tokens still verify, new ones use the key that was published as next', async () => {
  const before = await issueToken();
  const beforeKid = decodeProtectedHeader(before).kid!;
  const jwksBefore = await publishedJwks();
  const states = await keyStates();
  expect(states[beforeKid]).toBe('current');
  const nextKid = Object.keys(states).find((kid) => states[kid] === 'next')!;
  expect(jwksBefore.keys.map((key) => key.kid)).toContain(nextKid);

  await wait(2100); // the next key has now been published for the JWKS lifetime plus a poll interval
  const rotated = await cli(['keys', 'rotate', '--json'], running.env);
  expect(rotated.code).toBe(0);
  expect(rotated.json()).toMatchObject({ current: nextKid, previous: beforeKid });
  const newNext = rotated.json<{ next: string }>().next;

  // The server notices within its poll interval, without a restart.
  const after = await eventually(async () => {
    const token = await issueToken();
    return decodeProtectedHeader(token).kid === nextKid ? token : undefined;
  });

  // A verifier that cached the JWKS before the rotation verifies the new token...
  const cached = createLocalJWKSet(jwksBefore);
  await expect(jwtVerify(after, cached, { issuer: running.url, audience: API, typ: 'at+jwt' })).resolves.toBeDefined();
  // ...and with the JWKS as published now, the token from before still verifies.
  const now = await publishedJwks();
  expect(now.keys.map((key) => key.kid).sort()).toEqual([beforeKid, nextKid, newNext].sort());
  await expect(jwtVerify(before, createLocalJWKSet(now), { issuer: running.url, audience: API, typ: 'at+jwt' })).resolves.toBeDefined();
  expect(await keyStates()).toMatchObject({ [beforeKid]: 'previous', [nextKid]: 'current', [newNext]: 'next' });
});

test('a previous key is retired, and unpublished, once everything it signed has expired', async () => {
  const previous = Object.entries(await keyStates()).find(([, state]) => state === 'previous')![0];
  const etagBefore = (await fetch(`${running.url}/jwks`)).headers.get('etag');
  // Not yet: its tokens may still be valid.
  expect(await running.server.services.keys.retireExpired()).toEqual([]);
  await running.db.prisma.signingKey.update({ where: { kid: previous }, data: { deactivatedAt: new Date(Date.now() - 2 * 3600 * 1000) } });
  expect(await running.server.services.keys.retireExpired()).toEqual([previous]);
  await running.server.live.refresh();
  const published = await fetch(`${running.url}/jwks`);
  expect(((await published.json()) as JSONWebKeySet).keys.map((key) => key.kid)).not.toContain(previous);
  expect(published.headers.get('etag')).not.toBe(etagBefore);
  expect((await keyStates())[previous]).toBe('retired');
});

test('two rotations at once rotate once', async () => {
  await running.db.prisma.signingKey.updateMany({ where: { state: 'next' }, data: { createdAt: new Date(Date.now() - 60_000) } });
  const results = await Promise.allSettled([
    running.server.services.keys.rotate({}, { type: 'admin' }),
    running.server.services.keys.rotate({}, { type: 'admin' }),
  ]);
  expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
  const states = Object.values(await keyStates());
  expect(states.filter((state) => state === 'current')).toHaveLength(1);
  expect(states.filter((state) => state === 'next')).toHaveLength(1);
});

test('--force rotates at once (for a compromised key)', async () => {
  await running.db.prisma.signingKey.updateMany({ where: { state: 'next' }, data: { createdAt: new Date() } });
  const before = await keyStates();
  const forced = await cli(['keys', 'rotate', '--force', '--json'], running.env);
  expect(forced.code).toBe(0);
  const { current, previous, next } = forced.json<{ current: string; previous: string; next: string }>();
  expect(before[current]).toBe('next');
  expect(before[previous]).toBe('current');
  expect(await keyStates()).toMatchObject({ [current]: 'current', [previous]: 'previous', [next]: 'next' });
  await running.server.live.refresh();
  expect(decodeProtectedHeader(await issueToken()).kid).toBe(current);
});

test('scheduled rotation rotates when the current key is due, and not before', async () => {
  const keys = running.server.services.keys;
  expect(await keys.rotateIfDue(3600)).toBeUndefined();
  await running.db.prisma.signingKey.updateMany({ where: { state: 'current' }, data: { activatedAt: new Date(Date.now() - 7200 * 1000) } });
  await running.db.prisma.signingKey.updateMany({ where: { state: 'next' }, data: { createdAt: new Date(Date.now() - 60_000) } });
  const rotated = await keys.rotateIfDue(3600);
  expect(rotated).toBeDefined();
  expect(await keys.rotateIfDue(3600)).toBeUndefined();
  const events = (await running.server.services.audit.query({ limit: 500, type: 'signing_key.rotated' })).events;
  expect(events[0]).toMatchObject({ actorType: 'system', subject: rotated!.current });
});

test('an RS256 key set signs RS256 tokens that verify against its JWKS', async () => {
  const rs = await startServer({ SIGNING_KEY_ALG: 'RS256' });
  try {
    const jwks = (await (await fetch(`${rs.url}/jwks`)).json()) as JSONWebKeySet;
    expect(jwks.keys.map((key) => [key.kty, key.alg])).toEqual([
      ['RSA', 'RS256'],
      ['RSA', 'RS256'],
    ]);
    await cli(['resource', 'create', '--audience', API, '--scope', 'ledger:read', '--json'], rs.env);
    const client = (
      await cli(['client', 'create', '--name', 'rsa', '--grant', 'client_credentials', '--scope', 'ledger:read', '--json'], rs.env)
    ).json<{ client_id: string; client_secret: string }>();
    const response = await fetch(`${rs.url}/token`, {
      method: 'POST',
      headers: basicAuth(client.client_id, client.client_secret),
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: API }),
    });
    const { access_token } = (await response.json()) as { access_token: string };
    const { protectedHeader } = await jwtVerify(access_token, createLocalJWKSet(jwks), { issuer: rs.url, audience: API, typ: 'at+jwt' });
    expect(protectedHeader.alg).toBe('RS256');
  } finally {
    await rs.stop();
  }
});

test('instances starting together on an empty database end up with one current and one next key', async () => {
  const { createTestDatabase } = await import('../support/database.ts');
  const { migrate, openDatabase } = await import('../../src/db/index.ts');
  const { ensureSigningKeys } = await import('../../src/keys/index.ts');
  const fresh = await createTestDatabase();
  await migrate(fresh.url);
  const db = openDatabase(fresh.url);
  try {
    const created = await Promise.all([1, 2, 3].map(() => ensureSigningKeys(db.prisma, running.config.keyEncryptionKey, 'ES256')));
    expect(created.flat()).toHaveLength(2);
    const states = (await db.prisma.signingKey.findMany()).map((key) => key.state).sort();
    expect(states).toEqual(['current', 'next']);
  } finally {
    await db.close();
    await fresh.drop();
  }
});
