// RFC 8693 token exchange of a person's access token, end to end: a person signs in to an app
// through the real login pages (openid-client drives the code flow), and a service that knows
// nothing of Portcullis (oauth4webapi) exchanges the person's token for a token for another API,
// as the person (impersonation) or acting for them (delegation, `act`). Tokens are verified with
// jose against /jwks; introspection, revocation, DPoP, the audit log and the administrator's
// setting (CLI, admin API, configuration as code) are checked through the same server.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWTPayload,
} from 'jose';
import { loadSigningKeys } from '../../src/keys/index.ts';
import { adminCaller } from '../support/admin.ts';
import { logInWithCode } from '../support/browser.ts';
import { cli, cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const REDIRECT = 'http://127.0.0.1:8123/callback';
const EMAIL = 'grace@example.com';
const PASSWORD = 'a long and memorable passphrase';
/** The API the person's app calls; its tokens live two minutes. */
const NOTES = 'https://notes.example.com';
/** The API a service exchanges for; its tokens could live an hour. */
const SEARCH = 'https://search.example.com';
/** A third API, for a second exchange of an exchanged token. */
const ARCHIVE = 'https://archive.example.com';
/** An API no client may exchange for. */
const CLOSED = 'https://closed.example.com';

type Registered = { client_id: string; client_secret?: string };
let running: RunningServer;
let as: oauth.AuthorizationServer;
let app: Registered;
let appConfig: client.Configuration;
let service: Registered;
let archiver: Registered;
let withoutGrant: Registered;
let publicExchanger: Registered;
let searchApi: Registered;
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** The CLI against this file's server, with --json; a failure throws. */
const run = <T = Record<string, string>>(args: string[], stdin = '') => cliJson<T>(args, running.env, stdin);
const createClient = (args: string[]) => run<Registered>(['client', 'create', ...args]);

beforeAll(async () => {
  running = await startServer();
  const issuer = new URL(running.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  await run(['user', 'create', '--email', EMAIL, '--password-stdin'], PASSWORD);
  await run(['resource', 'create', '--audience', NOTES, '--scope', 'notes:read notes:write', '--ttl', '120']);
  await run(['resource', 'create', '--audience', SEARCH, '--scope', 'notes:read search:query', '--ttl', '3600']);
  await run(['resource', 'create', '--audience', ARCHIVE, '--scope', 'notes:read']);
  await run(['resource', 'create', '--audience', CLOSED, '--scope', 'notes:read']);
  app = await createClient([
    '--name',
    'Notes',
    '--grant',
    'authorization_code',
    '--grant',
    'refresh_token',
    '--redirect-uri',
    REDIRECT,
    '--scope',
    'notes:read notes:write',
  ]);
  const exchanging = ['--grant', 'client_credentials', '--grant', TOKEN_EXCHANGE];
  service = await createClient(['--name', 'search service', ...exchanging, '--scope', 'notes:read notes:write search:query']);
  archiver = await createClient(['--name', 'archiver', ...exchanging, '--scope', 'notes:read']);
  withoutGrant = await createClient(['--name', 'no exchange', '--grant', 'client_credentials', '--scope', 'notes:read']);
  publicExchanger = await createClient(['--name', 'public', '--public', '--grant', TOKEN_EXCHANGE, '--scope', 'notes:read']);
  searchApi = await createClient(['--name', 'search API', '--grant', 'client_credentials']);
  // The administrator's choice: which clients may exchange a person's token for which API.
  for (const listed of [service, withoutGrant, publicExchanger]) expect(listed.client_id).toBeTruthy();
  await run([
    'resource',
    'update',
    '--audience',
    SEARCH,
    '--exchange-client',
    service.client_id,
    '--exchange-client',
    withoutGrant.client_id,
    '--exchange-client',
    publicExchanger.client_id,
  ]);
  await run(['resource', 'create', '--audience', 'https://unused.example.com', '--scope', 'x', '--exchange-client', archiver.client_id]);
  appConfig = await client.discovery(issuer, app.client_id, app.client_secret, undefined, { execute: [client.allowInsecureRequests] });
});
afterAll(() => running.stop());

/** A person's tokens for NOTES, from a real authorization-code flow (a fresh login and grant each time). */
async function personTokens() {
  const { tokens } = await logInWithCode(
    appConfig,
    { resource: NOTES, scope: 'openid offline_access notes:read notes:write', prompt: 'consent' },
    { email: EMAIL, password: PASSWORD, redirectUri: REDIRECT },
  );
  return tokens;
}

let shared: Awaited<ReturnType<typeof personTokens>> | undefined;
/** One login for the tests that do not revoke it. */
const sharedTokens = async () => (shared ??= await personTokens());

const authOf = (caller: Registered) => (caller.client_secret ? oauth.ClientSecretBasic(caller.client_secret) : oauth.None());

type Options = { DPoP?: oauth.DPoPHandle };
function exchange(caller: Registered, parameters: Record<string, string>, options: Options = {}) {
  return oauth.genericTokenEndpointRequest(
    as,
    { client_id: caller.client_id },
    authOf(caller),
    TOKEN_EXCHANGE,
    { subject_token_type: ACCESS_TOKEN, ...parameters },
    { ...insecure, ...options },
  );
}

/** A successful exchange, its response checked by oauth4webapi. */
async function exchanged(caller: Registered, parameters: Record<string, string>, options: Options = {}) {
  const response = await exchange(caller, parameters, options);
  const raw = (await response.clone().json()) as Record<string, unknown>;
  if (response.status !== 200) throw new Error(`exchange answered ${response.status}: ${JSON.stringify(raw)}`);
  const body = await oauth.processGenericTokenEndpointResponse(as, { client_id: caller.client_id }, response);
  return { body, raw };
}

async function clientToken(caller: Registered, resource: string) {
  const response = await oauth.clientCredentialsGrantRequest(as, { client_id: caller.client_id }, authOf(caller), { resource }, insecure);
  return (await oauth.processClientCredentialsResponse(as, { client_id: caller.client_id }, response)).access_token;
}

async function verify(token: string, audience: string) {
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(as.jwks_uri!)), { issuer: as.issuer, audience, typ: 'at+jwt' });
  return payload as JWTPayload & { scope?: string; client_id?: string; grant_ref?: string; act?: unknown; cnf?: { jkt?: string } };
}

async function introspect(token: string) {
  const response = await oauth.introspectionRequest(
    as,
    { client_id: searchApi.client_id },
    oauth.ClientSecretBasic(searchApi.client_secret!),
    token,
    insecure,
  );
  return oauth.processIntrospectionResponse(as, { client_id: searchApi.client_id }, response);
}

async function expectError(response: Response, error: string, status = 400) {
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await response.json()) as Record<string, unknown>;
  expect({ status: response.status, body }).toMatchObject({ status, body: { error, error_description: expect.any(String) } });
  return body;
}

describe('impersonation', () => {
  test("a service gets a token for another API for the same person, within the person's scope and lifetime", async () => {
    const tokens = await sharedTokens();
    const subject = await verify(tokens.access_token, NOTES);
    expect(subject.scope).toBe('notes:read notes:write');
    const { body, raw } = await exchanged(service, { subject_token: tokens.access_token, resource: SEARCH });
    expect(raw).toMatchObject({ issued_token_type: ACCESS_TOKEN, token_type: 'Bearer', scope: 'notes:read' });
    const payload = await verify(body.access_token, SEARCH);
    expect(payload).toMatchObject({
      sub: tokens.claims()!.sub,
      client_id: service.client_id,
      scope: 'notes:read',
      grant_ref: subject.grant_ref,
    });
    expect(payload.act).toBeUndefined();
    // SEARCH's tokens could live an hour; this one ends with the person's (NOTES: two minutes).
    expect(payload.exp!).toBeLessThanOrEqual(subject.exp!);
    expect(body.expires_in!).toBeLessThanOrEqual(120);
  });

  test('`audience` names the API as `resource` does; a narrower scope is granted as asked', async () => {
    const tokens = await sharedTokens();
    const { body } = await exchanged(service, { subject_token: tokens.access_token, audience: SEARCH, scope: 'notes:read' });
    expect(await verify(body.access_token, SEARCH)).toMatchObject({ aud: SEARCH, scope: 'notes:read' });
  });

  test('introspection answers active, for the person; once the person revokes the grant, the exchanged token is inactive', async () => {
    const tokens = await personTokens();
    const { body } = await exchanged(service, { subject_token: tokens.access_token, resource: SEARCH });
    expect(await introspect(body.access_token)).toMatchObject({
      active: true,
      sub: tokens.claims()!.sub,
      client_id: service.client_id,
      aud: SEARCH,
      scope: 'notes:read',
    });
    expect(
      await running.server.services.grants.revokeClient(tokens.claims()!.sub, app.client_id, { type: 'user', id: tokens.claims()!.sub }),
    ).toBe(1);
    // Consent is one grant per person and app: the shared login's went with it.
    shared = undefined;
    expect(await introspect(body.access_token)).toEqual({ active: false });
    await expectError(await exchange(service, { subject_token: tokens.access_token, resource: SEARCH }), 'invalid_grant');
  });
});

describe('delegation', () => {
  test('with an actor token of its own, the new token names the service in act; a second exchange nests it', async () => {
    const tokens = await sharedTokens();
    const actorToken = await clientToken(service, SEARCH);
    const { body } = await exchanged(service, {
      subject_token: tokens.access_token,
      resource: SEARCH,
      actor_token: actorToken,
      actor_token_type: ACCESS_TOKEN,
    });
    const payload = await verify(body.access_token, SEARCH);
    expect(payload).toMatchObject({ sub: tokens.claims()!.sub, client_id: service.client_id, act: { sub: service.client_id } });
    expect(await introspect(body.access_token)).toMatchObject({ active: true, sub: tokens.claims()!.sub, act: { sub: service.client_id } });

    // RFC 8693 section 4.1: the archiver acts for the service, which acts for the person.
    await run(['resource', 'update', '--audience', ARCHIVE, '--exchange-client', archiver.client_id]);
    const again = await exchanged(archiver, {
      subject_token: body.access_token,
      resource: ARCHIVE,
      actor_token: await clientToken(archiver, ARCHIVE),
      actor_token_type: ACCESS_TOKEN,
    });
    expect(await verify(again.body.access_token, ARCHIVE)).toMatchObject({
      sub: tokens.claims()!.sub,
      client_id: archiver.client_id,
      act: { sub: archiver.client_id, act: { sub: service.client_id } },
      grant_ref: payload.grant_ref,
    });
    // Without an actor, an exchange keeps the act it was given: it never hides who acts.
    const impersonated = await exchanged(archiver, { subject_token: body.access_token, resource: ARCHIVE });
    expect((await verify(impersonated.body.access_token, ARCHIVE)).act).toEqual({ sub: service.client_id });
  });

  test.each<[string, () => Promise<Record<string, string>>, string]>([
    [
      "another client's token",
      async () => ({ actor_token: await clientToken(archiver, ARCHIVE), actor_token_type: ACCESS_TOKEN }),
      'invalid_grant',
    ],
    [
      "a person's token",
      async () => ({ actor_token: (await sharedTokens()).access_token, actor_token_type: ACCESS_TOKEN }),
      'invalid_grant',
    ],
    ['a token that is not one', async () => ({ actor_token: 'not-a-token', actor_token_type: ACCESS_TOKEN }), 'invalid_grant'],
    ['no actor_token_type', async () => ({ actor_token: await clientToken(service, SEARCH) }), 'invalid_request'],
    ['an actor_token_type alone', async () => ({ actor_token_type: ACCESS_TOKEN }), 'invalid_request'],
    [
      'an ID token type',
      async () => ({ actor_token: await clientToken(service, SEARCH), actor_token_type: 'urn:ietf:params:oauth:token-type:id_token' }),
      'invalid_request',
    ],
  ])('an actor given as %s is refused (%s)', async (_case, actor, error) => {
    const tokens = await sharedTokens();
    await expectError(await exchange(service, { subject_token: tokens.access_token, resource: SEARCH, ...(await actor()) }), error);
  });
});

describe('scopes never widen', () => {
  test.each([
    ['a scope the target API does not accept', 'notes:write'],
    ["a scope the person's token does not carry", 'search:query'],
    ['a scope nobody has', 'notes:delete'],
  ])('%s is invalid_scope', async (_case, scope) => {
    const tokens = await sharedTokens();
    await expectError(await exchange(service, { subject_token: tokens.access_token, resource: SEARCH, scope }), 'invalid_scope');
  });

  test('a token whose scope the target API shares none of is invalid_scope, not an empty token', async () => {
    const tokens = await sharedTokens();
    await run(['resource', 'update', '--audience', 'https://unused.example.com', '--exchange-client', service.client_id]);
    await expectError(
      await exchange(service, { subject_token: tokens.access_token, resource: 'https://unused.example.com' }),
      'invalid_scope',
    );
  });
});

describe("who may exchange, and for which API, is the administrator's choice", () => {
  test.each<[string, () => Registered, Record<string, string>, string, number?]>([
    ['a client not listed on the API', () => service, { resource: CLOSED }, 'invalid_target'],
    ['an API that is not registered', () => service, { resource: 'https://nowhere.example.com' }, 'invalid_target'],
    ['no API at all (and no default resource)', () => service, {}, 'invalid_target'],
    ['two APIs', () => service, { resource: SEARCH, audience: ARCHIVE }, 'invalid_target'],
    ['a listed client without the grant type', () => withoutGrant, { resource: SEARCH }, 'unauthorized_client'],
    ['a listed public client', () => publicExchanger, { resource: SEARCH }, 'unauthorized_client'],
  ])('%s is refused', async (_case, caller, parameters, error) => {
    const tokens = await sharedTokens();
    await expectError(await exchange(caller(), { subject_token: tokens.access_token, ...parameters }), error);
  });

  test('a client taken off the list is refused from then on', async () => {
    const tokens = await sharedTokens();
    await run(['resource', 'update', '--audience', ARCHIVE, '--exchange-client', archiver.client_id]);
    const listed = await run<{ exchange_clients: string[] }>(['resource', 'update', '--audience', ARCHIVE, '--exchange-client', '']);
    expect(listed.exchange_clients).toEqual([]);
    // The CLI ran with its own services: this server sees the change once its one-second cache ends.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expectError(await exchange(archiver, { subject_token: tokens.access_token, resource: ARCHIVE }), 'invalid_target');
    await run(['resource', 'update', '--audience', ARCHIVE, '--exchange-client', archiver.client_id]);
  });
});

describe('subject tokens that are not a live access token of a person are refused', () => {
  /** A token signed with this server's own current key: what only a bug or a key thief could make. */
  async function signedByServer(claims: Record<string, unknown>) {
    const keys = await loadSigningKeys(running.db.prisma, running.config.keyEncryptionKey);
    const jwk = keys.privateJwks.keys[0]!;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: keys.signing.alg, kid: keys.signing.kid, typ: 'at+jwt' })
      .sign(await importJWK(jwk, keys.signing.alg));
  }

  test.each<[string, () => Promise<string>]>([
    ['malformed', async () => 'not.a.jwt'],
    [
      'tampered',
      async () => {
        const [header, , signature] = (await sharedTokens()).access_token.split('.');
        const claims = { ...decodeJwt((await sharedTokens()).access_token), scope: 'notes:read search:query' };
        return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
      },
    ],
    [
      'signed by another key under our kid',
      async () => {
        const { privateKey } = await generateKeyPair('ES256');
        const token = (await sharedTokens()).access_token;
        return new SignJWT(decodeJwt(token)).setProtectedHeader({ ...decodeProtectedHeader(token), alg: 'ES256' }).sign(privateKey);
      },
    ],
    [
      "another issuer's",
      async () => signedByServer({ ...decodeJwt((await sharedTokens()).access_token), iss: 'https://elsewhere.example.com' }),
    ],
    [
      'expired',
      async () => {
        const now = Math.floor(Date.now() / 1000);
        return signedByServer({ ...decodeJwt((await sharedTokens()).access_token), iat: now - 300, exp: now - 60 });
      },
    ],
    ['a refresh token', async () => (await sharedTokens()).refresh_token!],
    ['an ID token', async () => (await sharedTokens()).id_token!],
    ["a client's own token (no person)", () => clientToken(service, SEARCH)],
    ['an API key', async () => 'not used'],
  ])('%s', async (which, subjectToken) => {
    if (which === 'an API key') {
      // An API key named as an access token is a mistake of the request.
      const key = await run<{ key: string }>([
        'apikey',
        'create',
        '--name',
        'k',
        '--scope',
        'notes:read',
        '--audience',
        NOTES,
        '--owner-client',
        service.client_id,
      ]);
      await expectError(await exchange(service, { subject_token: key.key, resource: SEARCH }), 'invalid_request');
      return;
    }
    await expectError(await exchange(service, { subject_token: await subjectToken(), resource: SEARCH }), 'invalid_grant');
  });

  test("an API key exchanged with an actor is invalid_request: delegation is for a person's token", async () => {
    const key = await run<{ key: string }>(['apikey', 'create', '--name', 'k2', '--scope', 'notes:read', '--audience', NOTES]);
    const response = await exchange(service, {
      subject_token: key.key,
      subject_token_type: 'urn:portcullis:params:oauth:token-type:api_key',
      actor_token: await clientToken(service, SEARCH),
      actor_token_type: ACCESS_TOKEN,
    });
    await expectError(response, 'invalid_request');
  });

  test.each([
    ['urn:ietf:params:oauth:token-type:refresh_token'],
    ['urn:ietf:params:oauth:token-type:id_token'],
    ['urn:ietf:params:oauth:token-type:jwt'],
    ['bearer'],
  ])('subject_token_type %s is invalid_request', async (type) => {
    const tokens = await sharedTokens();
    await expectError(
      await exchange(service, { subject_token: tokens.access_token, subject_token_type: type, resource: SEARCH }),
      'invalid_request',
    );
  });

  test('no request of these shapes is ever a 500', async () => {
    const tokens = await sharedTokens();
    const odd: Record<string, string>[] = [
      {},
      { subject_token: '' },
      { subject_token: tokens.access_token, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token', resource: SEARCH },
      { subject_token: tokens.access_token, resource: 'not a uri' },
      { subject_token: tokens.access_token, resource: SEARCH, scope: ' ' },
      { subject_token: '\u0000', resource: SEARCH },
      { subject_token: 'a'.repeat(5000), resource: SEARCH },
      { subject_token: `${tokens.access_token}.x`, resource: SEARCH },
      { subject_token: tokens.access_token, resource: SEARCH, actor_token: '', actor_token_type: ACCESS_TOKEN },
    ];
    for (const parameters of odd) {
      const response = await exchange(service, parameters);
      expect({ parameters, status: response.status }).toEqual({ parameters, status: expect.any(Number) });
      expect(response.status).toBeGreaterThanOrEqual(200);
      expect(response.status).toBeLessThan(500);
      await response.body?.cancel();
    }
  });
});

test('with a DPoP proof the exchanged token is bound to the proof key', async () => {
  const tokens = await sharedTokens();
  const keyPair = await oauth.generateKeyPair('ES256');
  const DPoP = oauth.DPoP({}, keyPair);
  const { body, raw } = await exchanged(service, { subject_token: tokens.access_token, resource: SEARCH }, { DPoP });
  expect(raw.token_type).toBe('DPoP');
  const payload = await verify(body.access_token, SEARCH);
  expect(payload.cnf?.jkt).toBe(await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)));
  expect(await introspect(body.access_token)).toMatchObject({ active: true, token_type: 'DPoP' });
});

test('the audit log records each exchange: client, person, API, scope, mode; never a token', async () => {
  const tokens = await sharedTokens();
  const actorToken = await clientToken(service, SEARCH);
  const { body } = await exchanged(service, {
    subject_token: tokens.access_token,
    resource: SEARCH,
    actor_token: actorToken,
    actor_token_type: ACCESS_TOKEN,
  });
  // The event is written beside the response (an audit failure never fails a token request): wait for it, boundedly.
  let events: Awaited<ReturnType<RunningServer['server']['services']['audit']['query']>>['events'] = [];
  for (let tries = 0; tries < 50; tries += 1) {
    events = (await running.server.services.audit.query({ type: 'token.exchanged', actor: service.client_id, limit: 500 })).events;
    if (events.some((event) => event.details?.mode === 'delegation')) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(events).toContainEqual(
    expect.objectContaining({
      type: 'token.exchanged',
      actorType: 'client',
      actorId: service.client_id,
      subject: tokens.claims()!.sub,
      outcome: 'success',
      details: { audience: SEARCH, scope: 'notes:read', mode: 'delegation', subject_client_id: app.client_id },
    }),
  );
  expect(events.some((event) => event.details?.mode === 'impersonation')).toBe(true);
  const stored = JSON.stringify(await running.db.prisma.auditEvent.findMany());
  for (const token of [tokens.access_token, actorToken, body.access_token]) {
    expect(stored).not.toContain(token);
    expect(stored).not.toContain(token.split('.')[2]!);
  }
});

describe("the administrator's setting", () => {
  test('the CLI lists it; a client id with white space is refused naming the flag', async () => {
    const listed = await run<unknown>(['resource', 'list']);
    expect(listed).toContainEqual(
      expect.objectContaining({
        audience: SEARCH,
        exchange_clients: [service.client_id, withoutGrant.client_id, publicExchanger.client_id].sort(),
      }),
    );
    const bad = await cli(['resource', 'update', '--audience', SEARCH, '--exchange-client', 'two words'], running.env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('exchange_clients (--exchange-client)');
    const none = await cli(['resource', 'update', '--audience', SEARCH], running.env);
    expect(none.code).toBe(1);
  });

  test('the admin API reads and changes it', async () => {
    const admin = await adminCaller(running, 'admin:read admin:write');
    const call = (method: string, url: string, body?: object) =>
      fetch(`${running.url}${url}`, {
        method,
        headers: { authorization: `Bearer ${admin.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const list = (await (await call('GET', '/admin/resources')).json()) as { id: string; audience: string; exchange_clients: string[] }[];
    const closed = list.find((resource) => resource.audience === CLOSED)!;
    expect(closed.exchange_clients).toEqual([]);
    const patched = await call('PATCH', `/admin/resources/${closed.id}`, { exchange_clients: ['b-client', 'a-client', 'b-client'] });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ audience: CLOSED, exchange_clients: ['a-client', 'b-client'], personal_key_scope: '' });
    const refused = await call('PATCH', `/admin/resources/${closed.id}`, { exchange_clients: 'a-client' });
    expect(refused.status).toBe(400);
    const own = list.find((resource) => resource.audience === `${running.url}/admin`)!;
    const forOwn = await call('PATCH', `/admin/resources/${own.id}`, { exchange_clients: [service.client_id] });
    expect(forOwn.status).toBe(400);
    expect(await call('PATCH', `/admin/resources/${closed.id}`, { exchange_clients: [] })).toMatchObject({ status: 200 });
  });

  test('export writes it and applying the export changes nothing', async () => {
    const exported = await run<{ resources: { audience: string; exchange_clients?: string[] }[] }>(['export']);
    expect(exported.resources.find((resource) => resource.audience === SEARCH)?.exchange_clients).toEqual(
      [service.client_id, withoutGrant.client_id, publicExchanger.client_id].sort(),
    );
    expect(exported.resources.find((resource) => resource.audience === CLOSED)).not.toHaveProperty('exchange_clients');
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-exchange-'));
    try {
      const file = path.join(folder, 'portcullis.json');
      // The exported clients name no secret; a file of the resources alone applies them.
      fs.writeFileSync(file, JSON.stringify({ portcullis: 1, resources: exported.resources }));
      const applied = await run<{ summary: Record<string, number> }>(['apply', '-f', file]);
      expect(applied.summary).toMatchObject({ create: 0, update: 0, delete: 0 });
      const reversed = exported.resources.map((resource) =>
        resource.audience === SEARCH ? { ...resource, exchange_clients: [...resource.exchange_clients!].reverse() } : resource,
      );
      fs.writeFileSync(file, JSON.stringify({ portcullis: 1, resources: reversed }));
      expect((await run<{ summary: Record<string, number> }>(['apply', '-f', file, '--dry-run'])).summary).toMatchObject({ update: 0 });
      const dropped = exported.resources.map((resource) =>
        resource.audience === SEARCH ? { ...resource, exchange_clients: [service.client_id] } : resource,
      );
      fs.writeFileSync(file, JSON.stringify({ portcullis: 1, resources: dropped }));
      const plan = await run<{ changes: { action: string; id: string; fields?: { field: string }[] }[] }>([
        'apply',
        '-f',
        file,
        '--dry-run',
      ]);
      expect(plan.changes.find((change) => change.id === SEARCH)).toMatchObject({
        action: 'update',
        fields: [{ field: 'exchange_clients' }],
      });
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
