// The device authorization grant (RFC 8628) through real HTTP: a device asks for a code, a person
// types it at /device, confirms, signs in and consents on the usual pages, and the device polls
// the token endpoint. The devices are clients that know nothing of Portcullis (openid-client,
// oauth4webapi, and Python's Authlib in a child process); the person is the scripted user agent
// of test/support/browser.ts; tokens are checked with jose against /jwks.
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { calculateJwkThumbprint, createRemoteJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.ts';
import { seal, unseal } from '../../src/crypto/index.ts';
import { migrate, openDatabase, type Database } from '../../src/db/index.ts';
import { createServer, type Server } from '../../src/http/index.ts';
import { cliJson } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { basicAuth, csrfFrom, formAction, UserAgent, type Step } from '../support/browser.ts';
import { startServer, testPepper, type RunningServer } from '../support/server.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const API = 'https://media.example.com';
const EMAIL = 'viewer@example.com';
const PASSWORD = 'a long enough passphrase';
let running: RunningServer;
/** A public device client (no secret, no redirect URI) that may refresh. */
let tv: { client_id: string };
/** A confidential device client, with a secret. */
let gameConsole: { client_id: string; client_secret: string };

interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
}

/** The CLI against `env`'s database, with --json; a failure throws. */
const run = (args: string[], env: Record<string, string> = running.env, stdin = '') => cliJson<Record<string, string>>(args, env, stdin);

async function deviceAuthorization(
  base: string,
  clientId: string,
  parameters: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<DeviceAuthorization> {
  const response = await fetch(`${base}/device/auth`, {
    method: 'POST',
    headers,
    body: new URLSearchParams({ client_id: clientId, scope: 'openid offline_access', ...parameters }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as DeviceAuthorization;
}

/** One poll of the token endpoint, as a device makes it (RFC 8628 section 3.4). */
async function poll(base: string, parameters: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/token`, {
    method: 'POST',
    headers,
    body: new URLSearchParams({ grant_type: DEVICE_GRANT, ...parameters }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

const xsrfFrom = (html: string) => /name="xsrf" value="([^"]*)"/.exec(html)?.[1] ?? '';

/** The person at /device: the form, then the code typed into it. Returns the page the POST answered. */
async function typeCode(agent: UserAgent, base: string, userCode: string): Promise<Step> {
  const form = await agent.request(`${base}/device`);
  expect(form.status).toBe(200);
  return agent.request(`${base}/device`, { form: { xsrf: xsrfFrom(form.body), user_code: userCode } });
}

/** The confirmation page's answer: `confirm` or `abort`, with the page's own hidden fields. */
function answer(agent: UserAgent, base: string, page: Step, choice: 'confirm' | 'abort'): Promise<Step> {
  const userCode = /name="user_code" value="([^"]*)"/.exec(page.body)?.[1] ?? '';
  return agent.follow(`${base}/device`, undefined, { form: { xsrf: xsrfFrom(page.body), user_code: userCode, [choice]: 'yes' } });
}

/** Signs in and consents on the pages the confirmation led to; returns the page it ended on. */
async function signInAndConsent(agent: UserAgent, start: Step, { consent = true } = {}): Promise<Step> {
  let step = start;
  for (let pages = 0; pages < 4 && step.status === 200; pages += 1) {
    if (step.body.includes('name="password"')) {
      step = await agent.follow(formAction(step.body, '/login', step.url), undefined, {
        form: { csrf: csrfFrom(step.body), email: EMAIL, password: PASSWORD },
      });
    } else if (step.body.includes('/confirm"')) {
      const action = consent ? '/confirm' : '/abort';
      step = await agent.follow(formAction(step.body, action, step.url), undefined, { form: { csrf: csrfFrom(step.body) } });
    } else {
      break;
    }
  }
  return step;
}

/** The whole of a person's part: type the code, confirm, sign in, consent. Returns the last page. */
async function approve(base: string, userCode: string, agent = new UserAgent()): Promise<Step> {
  const confirmation = await typeCode(agent, base, userCode);
  expect(confirmation.body).toContain('name="confirm"');
  return signInAndConsent(agent, await answer(agent, base, confirmation, 'confirm'));
}

beforeAll(async () => {
  running = await startServer();
  await run(['user', 'create', '--email', EMAIL, '--password-stdin'], running.env, PASSWORD);
  await run(['resource', 'create', '--audience', API, '--scope', 'media:play']);
  tv = (await run([
    'client',
    'create',
    '--name',
    'Living room TV',
    '--public',
    '--grant',
    DEVICE_GRANT,
    '--grant',
    'refresh_token',
  ])) as typeof tv;
  gameConsole = (await run([
    'client',
    'create',
    '--name',
    'Game console',
    '--grant',
    DEVICE_GRANT,
    '--scope',
    'media:play',
  ])) as typeof gameConsole;
});
afterAll(() => running.stop());

describe('discovery and clients', () => {
  test('discovery advertises the device authorization endpoint and the grant', async () => {
    const metadata = (await (await fetch(`${running.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.device_authorization_endpoint).toBe(`${running.url}/device/auth`);
    expect(metadata.grant_types_supported).toContain(DEVICE_GRANT);
  });

  test('a device client needs no redirect URI and may refresh; refresh_token without a person grant is still refused', async () => {
    const row = await running.db.prisma.client.findUniqueOrThrow({ where: { id: tv.client_id } });
    expect(row.metadata).toMatchObject({
      grant_types: [DEVICE_GRANT, 'refresh_token'],
      redirect_uris: [],
      token_endpoint_auth_method: 'none',
    });
    await expect(
      run(['client', 'create', '--name', 'lonely', '--grant', 'refresh_token', '--grant', 'client_credentials']),
    ).rejects.toThrow(/refresh_token needs authorization_code or urn:ietf:params:oauth:grant-type:device_code/);
  });
});

describe('a person connects a device', () => {
  test('openid-client: the code typed in lower case without its dash, sign-in and consent, then tokens, then a refresh', async () => {
    const issuer = new URL(running.url);
    const config = await client.discovery(issuer, tv.client_id, undefined, client.None(), { execute: [client.allowInsecureRequests] });
    const device = await client.initiateDeviceAuthorization(config, { scope: 'openid offline_access' });
    expect(device.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(device.verification_uri).toBe(`${running.url}/device`);

    // Before the person has done anything the device is told to wait.
    const early = await poll(running.url, { client_id: tv.client_id, device_code: device.device_code });
    expect(early).toMatchObject({ status: 400, body: { error: 'authorization_pending' } });

    const typed = device.user_code.replace('-', '').toLowerCase();
    const agent = new UserAgent();
    const done = await approve(running.url, typed, agent);
    expect(done.status).toBe(200);
    expect(done.body).toContain('You can return to your device');
    expect(done.body).toContain('Living room TV');
    // Reloading that page is no error and no failure: the sign-in is over, and the page says so.
    const reloaded = await agent.request(done.url);
    expect(reloaded.status).toBeLessThan(500);
    expect(reloaded.body).toContain('This sign-in has finished or expired');
    expect(reloaded.body).not.toContain('This form has expired');

    const tokens = await client.pollDeviceAuthorizationGrant(config, device);
    expect(tokens.refresh_token).toBeDefined();
    const jwks = createRemoteJWKSet(new URL(`${running.url}/jwks`));
    const { payload } = await jwtVerify(tokens.id_token!, jwks, { issuer: running.url, audience: tv.client_id });
    const account = await running.db.prisma.user.findUniqueOrThrow({ where: { email: EMAIL } });
    expect(payload.sub).toBe(account.id);

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    // The device code is single use.
    const again = await poll(running.url, { client_id: tv.client_id, device_code: device.device_code });
    expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  }, 30_000);

  test('verification_uri_complete: the code comes prefilled and the person confirms it', async () => {
    const device = await deviceAuthorization(running.url, tv.client_id);
    const agent = new UserAgent();
    // oidc-provider answers with a page that posts the code to the form by itself (a script);
    // the scripted agent posts what that page holds.
    const prefilled = await agent.request(device.verification_uri_complete);
    expect(prefilled.status).toBe(200);
    const fields = Object.fromEntries([...prefilled.body.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((match) => [match[1], match[2]]));
    expect(fields.user_code).toBe(device.user_code);
    const confirmation = await agent.request(`${running.url}/device`, { form: fields as Record<string, string> });
    expect(confirmation.status).toBe(200);
    expect(confirmation.body).toContain('Connect Living room TV?');
    expect(confirmation.body).toContain(device.user_code);
    expect(confirmation.body).toContain('name="abort"');
    const done = await signInAndConsent(agent, await answer(agent, running.url, confirmation, 'confirm'));
    expect(done.body).toContain('You can return to your device');
    const tokens = await poll(running.url, { client_id: tv.client_id, device_code: device.device_code });
    expect(tokens.status).toBe(200);
    expect(tokens.body.token_type).toBe('Bearer');
  });

  test('Cancel on the confirmation page: the device is told access_denied', async () => {
    const device = await deviceAuthorization(running.url, tv.client_id);
    const agent = new UserAgent();
    const cancelled = await answer(agent, running.url, await typeCode(agent, running.url, device.user_code), 'abort');
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toContain('Cancelled: the device was not connected');
    expect(await poll(running.url, { client_id: tv.client_id, device_code: device.device_code })).toMatchObject({
      status: 400,
      body: { error: 'access_denied' },
    });
  });

  test('Deny on the consent page: the device is told access_denied', async () => {
    // A person who has not consented to this client yet.
    const other = await run(['client', 'create', '--name', 'Kitchen radio', '--public', '--grant', DEVICE_GRANT]);
    const device = await deviceAuthorization(running.url, other.client_id!, { scope: 'openid' });
    const agent = new UserAgent();
    const confirmation = await typeCode(agent, running.url, device.user_code);
    const denied = await signInAndConsent(agent, await answer(agent, running.url, confirmation, 'confirm'), { consent: false });
    expect(denied.status).toBe(200);
    expect(await poll(running.url, { client_id: other.client_id!, device_code: device.device_code })).toMatchObject({
      status: 400,
      body: { error: 'access_denied' },
    });
  });
});

describe('polling (RFC 8628 section 3.5)', () => {
  test('a device polling faster than the interval is told slow_down, and is still pending', async () => {
    const device = await deviceAuthorization(running.url, tv.client_id);
    const first = await poll(running.url, { client_id: tv.client_id, device_code: device.device_code });
    const second = await poll(running.url, { client_id: tv.client_id, device_code: device.device_code });
    expect(first).toMatchObject({ status: 400, body: { error: 'authorization_pending' } });
    expect(second).toMatchObject({ status: 400, body: { error: 'slow_down' } });
    // Another device's polls are its own.
    const other = await deviceAuthorization(running.url, tv.client_id);
    expect(await poll(running.url, { client_id: tv.client_id, device_code: other.device_code })).toMatchObject({
      body: { error: 'authorization_pending' },
    });
  });

  test('an expired device code is told expired_token', async () => {
    const device = await deviceAuthorization(running.url, tv.client_id);
    // Age the stored code: its row's expiry and the expiry sealed in its payload.
    const rows = await running.db.prisma.providerArtifact.findMany({ where: { kind: 'DeviceCode' } });
    const past = Math.floor(Date.now() / 1000) - 60;
    let aged = 0;
    for (const row of rows) {
      const json = unseal(device.device_code, testPepper, 'DeviceCode', row.payload);
      if (json === undefined) continue;
      const payload = seal(device.device_code, testPepper, 'DeviceCode', JSON.stringify({ ...JSON.parse(json), exp: past }));
      await running.db.prisma.providerArtifact.update({
        where: { kind_idHash: { kind: row.kind, idHash: row.idHash } },
        data: { payload, expiresAt: new Date(past * 1000) },
      });
      aged += 1;
    }
    expect(aged).toBe(1);
    expect(await poll(running.url, { client_id: tv.client_id, device_code: device.device_code })).toMatchObject({
      status: 400,
      body: { error: 'expired_token' },
    });
    // The page says so too, rather than calling the code wrong.
    const page = await typeCode(new UserAgent(), running.url, device.user_code);
    expect(page.body).toContain('That code has expired');
  });

  test('bad token requests: another client’s device code, an unknown one, none at all', async () => {
    const device = await deviceAuthorization(running.url, tv.client_id);
    const other = await run(['client', 'create', '--name', 'Thermostat', '--public', '--grant', DEVICE_GRANT]);
    expect(await poll(running.url, { client_id: other.client_id!, device_code: device.device_code })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect(await poll(running.url, { client_id: tv.client_id, device_code: 'not-a-device-code' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect(await poll(running.url, { client_id: tv.client_id })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    // A client without the grant may not ask for a device code.
    const web = await run([
      'client',
      'create',
      '--name',
      'web',
      '--public',
      '--grant',
      'authorization_code',
      '--redirect-uri',
      'http://localhost/cb',
    ]);
    const refused = await fetch(`${running.url}/device/auth`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: web.client_id!, scope: 'openid' }),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe('unauthorized_client');
  });
});

describe('the verification page', () => {
  test('bad user codes are answered on the page, never with a 500', async () => {
    const agent = new UserAgent();
    const unknown = await typeCode(agent, running.url, 'BCDF-GHJK');
    expect(unknown.status).toBe(200);
    expect(unknown.body).toContain('That code is not right');
    const empty = await typeCode(agent, running.url, '');
    expect(empty.status).toBe(200);
    expect(empty.body).toContain('Type the code your device shows');
    const long = await typeCode(agent, running.url, 'B'.repeat(5000));
    expect(long.status).toBe(200);
    expect(long.body).toContain('That code is not right');
    expect(long.body).not.toContain('B'.repeat(100));
    // A form without its xsrf value, and a code sent twice.
    const forged = await agent.request(`${running.url}/device`, { form: { xsrf: 'forged', user_code: 'BCDF-GHJK' } });
    expect(forged.status).toBe(400);
    expect(forged.body).toContain('This form has expired');
    const form = await agent.request(`${running.url}/device`);
    const twice = await fetch(`${running.url}/device`, {
      method: 'POST',
      headers: { cookie: await agent.jar.getCookieString(running.url), accept: 'text/html' },
      body: `xsrf=${xsrfFrom(form.body)}&user_code=A&user_code=B`,
    });
    expect(twice.status).toBe(400);
    // Without the session cookie (cookies off, or cleared): a form, and a step of a sign-in.
    for (const request of [
      fetch(`${running.url}/device`, {
        method: 'POST',
        headers: { accept: 'text/html' },
        body: new URLSearchParams({ user_code: 'BCDF-GHJK' }),
      }),
      fetch(`${running.url}/device/not-an-interaction`, { headers: { accept: 'text/html' } }),
    ]) {
      const response = await request;
      expect(response.status).toBeLessThan(500);
      expect(await response.text()).toContain('Type the code again');
    }
  });

  test('wrong codes are limited per network: past the limit the page refuses, right code or wrong', async () => {
    const limited = await startServer({ DEVICE_CODE_FAILURE_LIMIT: '3/15m' });
    try {
      await run(['user', 'create', '--email', EMAIL, '--password-stdin'], limited.env, PASSWORD);
      const device = await run(['client', 'create', '--name', 'TV', '--public', '--grant', DEVICE_GRANT], limited.env);
      const { user_code } = await deviceAuthorization(limited.url, device.client_id!);
      const agent = new UserAgent();
      // The right code does not count against the limit, however often it is typed.
      for (let attempt = 0; attempt < 4; attempt += 1) {
        expect((await typeCode(agent, limited.url, user_code)).body).toContain('name="confirm"');
      }
      for (let attempt = 0; attempt < 3; attempt += 1) {
        expect((await typeCode(agent, limited.url, `BCDF-GHJ${'BCD'[attempt]}`)).body).toContain('That code is not right');
      }
      const refused = await typeCode(agent, limited.url, user_code);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.body).toContain('Too many wrong codes from your network');
      expect(refused.body).not.toContain('name="confirm"');
    } finally {
      await limited.stop();
    }
  });
});

test('DPoP: a device-code token request with a proof gets a token bound to its key', async () => {
  const device = await deviceAuthorization(
    running.url,
    gameConsole.client_id,
    { scope: 'openid media:play', resource: API },
    basicAuth(gameConsole.client_id, gameConsole.client_secret),
  );
  await approve(running.url, device.user_code);
  const issuer = new URL(running.url);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
  const keyPair = await generateKeyPair('ES256');
  const deviceClient: oauth.Client = { client_id: gameConsole.client_id };
  const dpop = oauth.DPoP(deviceClient, keyPair);
  const request = () =>
    oauth.deviceCodeGrantRequest(as, deviceClient, oauth.ClientSecretBasic(gameConsole.client_secret), device.device_code, {
      DPoP: dpop,
      [oauth.allowInsecureRequests]: true,
      additionalParameters: { resource: API },
    });
  let response = await request();
  // A server may ask for a nonce first (RFC 9449 section 8); oauth4webapi keeps it for the retry.
  if (response.status === 400 && response.headers.get('dpop-nonce')) response = await request();
  const tokens = await oauth.processDeviceCodeResponse(as, deviceClient, response);
  expect(tokens.token_type).toBe('dpop');
  const claims = decodeJwt(tokens.access_token);
  expect(claims.aud).toBe(API);
  expect((claims.cnf as { jkt?: string }).jkt).toBe(await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)));
});

test('at rest: the stored device code holds neither the device code nor the user code in clear', async () => {
  const device = await deviceAuthorization(running.url, tv.client_id);
  const rows = await running.db.prisma.providerArtifact.findMany({ where: { kind: 'DeviceCode' } });
  expect(rows.length).toBeGreaterThan(0);
  const stored = JSON.stringify(rows);
  for (const secret of [device.device_code, device.user_code, device.user_code.replace('-', '')]) {
    expect(stored).not.toContain(secret);
  }
  // Still found by its user code (through the sealed index).
  expect((await typeCode(new UserAgent(), running.url, device.user_code)).body).toContain('name="confirm"');
});

describe('two instances on one database', () => {
  let testDatabase: TestDatabase;
  const instances: { url: string; server: Server; db: Database; http: http.Server }[] = [];
  let hallTv: Record<string, string>;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    const listening = await Promise.all(
      [0, 1].map(async () => {
        const httpServer = http.createServer();
        await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
        return httpServer;
      }),
    );
    const urls = listening.map((httpServer) => `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`);
    // One public issuer for both, as behind a load balancer.
    const env = { NODE_ENV: 'test', ISSUER: urls[0]!, DATABASE_URL: testDatabase.url, HASH_PEPPER: testPepper, LOG_LEVEL: 'silent' };
    const config = loadConfig(env);
    await migrate(config.databaseUrl);
    for (const [index, httpServer] of listening.entries()) {
      const db = openDatabase(config.databaseUrl, config);
      const server = await createServer({ config, db, logger: pino({ level: 'silent' }) });
      server.attach(httpServer);
      instances.push({ url: urls[index]!, server, db, http: httpServer });
    }
    await run(['user', 'create', '--email', EMAIL, '--password-stdin'], env, PASSWORD);
    hallTv = await run(['client', 'create', '--name', 'Hall TV', '--public', '--grant', DEVICE_GRANT], env);
  }, 60_000);
  afterAll(async () => {
    for (const instance of instances) {
      await instance.server.close();
      await instance.db.close();
    }
    await testDatabase.drop();
  }, 60_000);

  test('a device code asked for and approved through one instance is redeemed through the other', async () => {
    const [one, two] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const device = await deviceAuthorization(one.url, hallTv.client_id!, { scope: 'openid' });
    expect(await poll(two.url, { client_id: hallTv.client_id!, device_code: device.device_code })).toMatchObject({
      body: { error: 'authorization_pending' },
    });
    expect((await approve(one.url, device.user_code)).body).toContain('You can return to your device');
    const tokens = await poll(two.url, { client_id: hallTv.client_id!, device_code: device.device_code });
    expect(tokens.status).toBe(200);
    const { payload } = await jwtVerify(tokens.body.id_token!, createRemoteJWKSet(new URL(`${two.url}/jwks`)), {
      audience: hallTv.client_id!,
    });
    expect(payload.iss).toBe(one.url);
  });
});

/** Debian's python3 with python3-authlib (and python3-requests): CI must run the Authlib test (.ci/run installs them). */
const PYTHON = '/usr/bin/python3';
const authlibInstalled = spawnSync(PYTHON, ['-c', 'import authlib, requests'], { stdio: 'ignore' }).status === 0;
const authlibRequired = process.env.CI === 'true';
const withAuthlib = authlibInstalled || authlibRequired ? test : test.skip;
if (!authlibInstalled && !authlibRequired) {
  console.warn('Authlib device-flow test skipped: install it with apt-get install -y python3-authlib python3-requests');
}

withAuthlib(
  'Authlib (Python): the device polls while the person types the code, and gets a token the JWKS verifies',
  async () => {
    const script = path.join(import.meta.dirname, 'clients', 'device_authlib.py');
    const child = spawn(PYTHON, [script, running.url, tv.client_id, 'openid'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = readline.createInterface({ input: child.stdout });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const output: string[] = [];
    const nextLine = () =>
      new Promise<string>((resolve, reject) => {
        if (output.length) return resolve(output.shift()!);
        const onLine = (line: string) => {
          lines.off('line', onLine);
          resolve(line);
        };
        lines.on('line', onLine);
        void exited.then((code) => reject(new Error(`device_authlib.py exited with ${code}: ${stderr}`)));
      });
    try {
      const device = JSON.parse(await nextLine()) as DeviceAuthorization;
      expect(device.verification_uri).toBe(`${running.url}/device`);
      expect((await approve(running.url, device.user_code)).body).toContain('You can return to your device');
      const tokens = JSON.parse(await nextLine()) as Record<string, string>;
      expect(tokens.error).toBeUndefined();
      expect(tokens.token_type).toBe('Bearer');
      const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${running.url}/jwks`)), {
        issuer: running.url,
        audience: tv.client_id,
      });
      expect(payload.sub).toBeDefined();
      expect(await exited).toBe(0);
    } finally {
      child.kill();
    }
  },
  30_000,
);
