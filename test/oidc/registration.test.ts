// Dynamic client registration (RFC 7591) and its management (RFC 7592), end to end: an
// administrator makes an initial access token with the CLI, a developer registers a client at /reg
// with plain fetch (oauth4webapi and openid-client have no registration helper), and the
// registered client runs real flows through openid-client and oauth4webapi, which know nothing of
// Portcullis. Every refusal is RFC 7591's error JSON (or RFC 6750's invalid_token), never a 500.
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { exportJWK, generateKeyPair } from 'jose';
import { adminCaller } from '../support/admin.ts';
import { basicAuth, logInWithCode } from '../support/browser.ts';
import { cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const API = 'https://notes.example.com';
const REDIRECT = 'http://127.0.0.1:8123/callback';
const EMAIL = 'grace@example.com';
const PASSWORD = 'correct horse battery staple';
const insecure = { [oauth.allowInsecureRequests]: true } as const;
let running: RunningServer;

interface MadeToken {
  id: string;
  token: string;
  uses_left: number | null;
  grant_types: string[];
  scope: string;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** The CLI against this file's server, with --json; a failure throws. */
const run = <T = Record<string, unknown>>(args: string[], stdin = '') => cliJson<T>(args, running.env, stdin);
const makeToken = (...args: string[]) => run<MadeToken>(['client', 'registration-token', 'create', ...args]);

/** A request to the registration endpoints as a developer's script makes it: fetch and JSON. */
async function call(method: string, path: string, token: string | undefined, body?: unknown): Promise<Answer> {
  const response = await fetch(new URL(path, running.url), {
    method,
    headers: {
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
const register = (token: string | undefined, metadata: unknown) => call('POST', '/reg', token, metadata);

const webApp = {
  client_name: 'Grace Notes',
  redirect_uris: [REDIRECT],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'notes:read',
};

/** What a refused registration must look like: RFC 7591 section 3.2.2's JSON, naming the field. */
function expectRefusal(answer: Answer, error: string, field: string) {
  expect(answer.status).toBe(400);
  expect(answer.body).toMatchObject({ error });
  expect(String(answer.body.error_description)).toMatch(new RegExp(`^${field}\\b`));
}

beforeAll(async () => {
  running = await startServer({ CLIENT_REGISTRATION: 'on' });
  await run(['user', 'create', '--email', EMAIL, '--name', 'Grace Hopper', '--password-stdin'], PASSWORD);
  await run(['resource', 'create', '--audience', API, '--scope', 'notes:read notes:write']);
});
afterAll(() => running.stop());

describe('discovery', () => {
  test('lists the registration endpoint when CLIENT_REGISTRATION=on', async () => {
    const metadata = (await (await fetch(`${running.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.registration_endpoint).toBe(`${running.url}/reg`);
  });

  test('off by default: not listed, and /reg is not there', async () => {
    const off = await startServer();
    try {
      const metadata = await (await fetch(`${off.url}/.well-known/openid-configuration`)).json();
      expect(metadata).not.toHaveProperty('registration_endpoint');
      const response = await fetch(`${off.url}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer anything' },
        body: JSON.stringify(webApp),
      });
      expect(response.status).toBe(404);
      expect(await off.db.prisma.client.count()).toBe(0);
    } finally {
      await off.stop();
    }
  });
});

describe('registering a client', () => {
  test('a registered web app signs a person in through openid-client, and is stored like any client', async () => {
    const made = await makeToken('--uses', '5', '--scope', 'notes:read');
    const answer = await register(made.token, webApp);
    expect(answer.status).toBe(201);
    expect(answer.headers.get('cache-control')).toMatch(/no-store/);
    const registered = answer.body as { client_id: string; client_secret: string; registration_access_token: string };
    expect(registered).toMatchObject({
      client_name: 'Grace Notes',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'notes:read',
      client_secret_expires_at: 0,
      registration_client_uri: `${running.url}/reg/${registered.client_id}`,
    });
    expect(registered.client_secret).toMatch(/^[\w-]{43}$/);
    expect(typeof registered.registration_access_token).toBe('string');
    // Portcullis's own metadata for oidc-provider is never part of an answer.
    for (const field of ['allowed_scope', 'previous_secret_hash', 'previous_secret_expires_at'])
      expect(registered).not.toHaveProperty(field);

    const config = await client.discovery(new URL(running.url), registered.client_id, registered.client_secret, undefined, {
      execute: [client.allowInsecureRequests],
    });
    const { tokens } = await logInWithCode(
      config,
      { scope: 'openid offline_access notes:read', resource: API, prompt: 'consent' },
      { email: EMAIL, password: PASSWORD, redirectUri: REDIRECT },
    );
    expect(tokens.claims()?.aud).toBe(registered.client_id);
    expect(tokens.refresh_token).toBeDefined();
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, { resource: API });
    expect(refreshed.access_token).toBeDefined();

    const row = await running.db.prisma.client.findUniqueOrThrow({ where: { id: registered.client_id } });
    expect(row.registered).toBe(true);
    expect(row.secretHash).toMatch(/^hmac-sha256:/);
    const dump = JSON.stringify(await running.db.prisma.client.findMany());
    expect(dump).not.toContain(registered.client_secret);
    expect((await running.db.prisma.initialAccessToken.findUniqueOrThrow({ where: { id: made.id } })).usesLeft).toBe(4);
  });

  test('a service registered with a token that allows client_credentials gets tokens from oauth4webapi', async () => {
    const made = await makeToken('--grant', 'client_credentials', '--scope', 'notes:write');
    const answer = await register(made.token, {
      client_name: 'Nightly sync',
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'notes:write',
    });
    expect(answer.status).toBe(201);
    const { client_id: clientId, client_secret: secret } = answer.body as Record<string, string>;
    const issuer = new URL(running.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      { client_id: clientId! },
      oauth.ClientSecretPost(secret!),
      new URLSearchParams({ resource: API }),
      insecure,
    );
    const result = await oauth.processClientCredentialsResponse(as, { client_id: clientId! }, response);
    expect(result.scope).toBe('notes:write');
  });

  test('a public app (token_endpoint_auth_method none) gets no secret', async () => {
    const made = await makeToken();
    const answer = await register(made.token, {
      client_name: 'Notes for the desktop',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1:9000/callback'],
    });
    expect(answer.status).toBe(201);
    expect(answer.body).not.toHaveProperty('client_secret');
    expect(answer.body).toMatchObject({ token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] });
    const row = await running.db.prisma.client.findUniqueOrThrow({ where: { id: String(answer.body.client_id) } });
    expect(row).toMatchObject({ public: true, secretHash: null, registered: true });
  });

  test('a private_key_jwt client registers its public keys', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const made = await makeToken();
    const base = { client_name: 'Signed', redirect_uris: ['https://signed.example.com/cb'], token_endpoint_auth_method: 'private_key_jwt' };
    const answer = await register(made.token, { ...base, jwks: { keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256' }] } });
    expect(answer.status).toBe(201);
    expect(answer.body).not.toHaveProperty('client_secret');
    expectRefusal(await register(made.token, base), 'invalid_client_metadata', 'jwks');
    expectRefusal(
      await register(made.token, { ...base, jwks: { keys: [await exportJWK(privateKey)] } }),
      'invalid_client_metadata',
      'jwks',
    );
  });
});

describe('what registration refuses', () => {
  let token: MadeToken;
  beforeAll(async () => {
    token = await makeToken('--scope', 'notes:read');
  });

  test.each([
    [
      'a grant the token does not allow',
      { ...webApp, grant_types: ['client_credentials'], response_types: [] },
      'invalid_client_metadata',
      'grant_types',
    ],
    ['an API scope the token does not allow', { ...webApp, scope: 'notes:read notes:write' }, 'invalid_client_metadata', 'scope'],
    ['a javascript: redirect', { ...webApp, redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri', 'redirect_uris'],
    [
      'a data: redirect for a public client',
      { ...webApp, token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: ['data:text/html,hi'] },
      'invalid_redirect_uri',
      'redirect_uris',
    ],
    [
      'an http redirect that is not loopback',
      { ...webApp, redirect_uris: ['http://notes.example.com/cb'] },
      'invalid_redirect_uri',
      'redirect_uris',
    ],
    [
      'a redirect with a fragment',
      { ...webApp, redirect_uris: ['https://notes.example.com/cb#x'] },
      'invalid_redirect_uri',
      'redirect_uris',
    ],
    ['the code grant without a redirect URI', { ...webApp, redirect_uris: [] }, 'invalid_redirect_uri', 'redirect_uris'],
    [
      'client_credentials for a public client',
      { ...webApp, token_endpoint_auth_method: 'none', grant_types: ['client_credentials'] },
      'invalid_client_metadata',
      'grant_types',
    ],
    ['an unknown grant type', { ...webApp, grant_types: ['password'] }, 'invalid_client_metadata', 'grant_types'],
    [
      'an unsupported authentication method',
      { ...webApp, token_endpoint_auth_method: 'client_secret_jwt' },
      'invalid_client_metadata',
      'token_endpoint_auth_method',
    ],
    ['a response type other than code', { ...webApp, response_types: ['code id_token'] }, 'invalid_client_metadata', 'response_types'],
    [
      'keys by reference',
      { ...webApp, token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://a.example/jwks' },
      'invalid_client_metadata',
      'jwks_uri',
    ],
    ['a client_name of the wrong type', { ...webApp, client_name: 42 }, 'invalid_client_metadata', 'client_name'],
    ['Portcullis metadata smuggled in', { ...webApp, allowed_scope: 'admin:write' }, '', ''],
  ])('%s', async (_name, metadata, error, field) => {
    const before = await running.db.prisma.initialAccessToken.findUniqueOrThrow({ where: { id: token.id } });
    const answer = await register(token.token, metadata);
    if (!error) {
      // Ignored (RFC 7591 section 2), never stored: the client gets only what the token allows.
      expect(answer.status).toBe(201);
      const row = await running.db.prisma.client.findUniqueOrThrow({ where: { id: String(answer.body.client_id) } });
      expect(JSON.stringify(row.metadata)).not.toContain('admin:write');
      expect(answer.body.scope).toBe('notes:read');
      return;
    }
    expectRefusal(answer, error, field);
    // A refused registration spends nothing.
    expect((await running.db.prisma.initialAccessToken.findUniqueOrThrow({ where: { id: token.id } })).uses).toBe(before.uses);
  });

  test('malformed JSON, or a body that is not a JSON object, is invalid_request', async () => {
    for (const body of ['{"client_name": ', '[1, 2]', '"text"']) {
      const answer = await register(token.token, body);
      expect([answer.status, answer.body.error]).toEqual([400, 'invalid_request']);
    }
  });

  test('no token, a wrong token, an expired token and a used-up token are invalid_token (RFC 6750)', async () => {
    const expectInvalidToken = (answer: Answer) => {
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe('invalid_token');
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer /);
    };
    expectInvalidToken(await register(undefined, webApp));
    expectInvalidToken(await register('not-a-token', webApp));
    expectInvalidToken(await register(`${token.token.slice(0, -1)}${token.token.endsWith('A') ? 'B' : 'A'}`, webApp));

    const expiring = await makeToken('--expires-in', '1h', '--scope', 'notes:read');
    await running.db.prisma.initialAccessToken.update({ where: { id: expiring.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expectInvalidToken(await register(expiring.token, webApp));

    const once = await makeToken('--uses', '1', '--scope', 'notes:read');
    expect((await register(once.token, webApp)).status).toBe(201);
    expectInvalidToken(await register(once.token, webApp));

    const deleted = await makeToken();
    await run(['client', 'registration-token', 'delete', deleted.id]);
    expectInvalidToken(await register(deleted.token, webApp));
  });

  test('the purge deletes expired tokens and keeps the others', async () => {
    const expired = await makeToken('--expires-in', '1h');
    const live = await makeToken('--expires-in', '1h');
    const forever = await makeToken();
    await running.db.prisma.initialAccessToken.update({ where: { id: expired.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await running.server.services.clients.registrationTokens.purgeExpired()).toBeGreaterThanOrEqual(1);
    const left = (await running.db.prisma.initialAccessToken.findMany()).map((row) => row.id);
    expect(left).not.toContain(expired.id);
    expect(left).toEqual(expect.arrayContaining([live.id, forever.id]));
  });

  test('a token with one use left registers exactly one of two clients asking at once', async () => {
    const once = await makeToken('--uses', '1', '--scope', 'notes:read');
    const before = await running.db.prisma.client.count({ where: { registered: true } });
    const answers = await Promise.all([register(once.token, webApp), register(once.token, { ...webApp, client_name: 'Twin' })]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 401]);
    expect(answers.find((answer) => answer.status === 401)!.body.error).toBe('invalid_token');
    expect(await running.db.prisma.client.count({ where: { registered: true } })).toBe(before + 1);
    expect(await running.db.prisma.initialAccessToken.findUniqueOrThrow({ where: { id: once.id } })).toMatchObject({
      usesLeft: 0,
      uses: 1,
    });
  });
});

describe('managing a registration (RFC 7592)', () => {
  async function registered(metadata: Record<string, unknown> = webApp) {
    const made = await makeToken('--scope', 'notes:read notes:write');
    const answer = await register(made.token, metadata);
    expect(answer.status).toBe(201);
    return { tokenId: made.id, ...(answer.body as Record<string, string>) } as Record<string, string> & { tokenId: string };
  }
  const path = (clientId: string) => `/reg/${clientId}`;

  test('read: the metadata without any secret or hash, with the registration access token only', async () => {
    const app = await registered();
    const read = await call('GET', path(app.client_id!), app.registration_access_token);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      client_id: app.client_id,
      client_name: 'Grace Notes',
      scope: 'notes:read',
      redirect_uris: [REDIRECT],
    });
    expect(read.body).not.toHaveProperty('client_secret');
    expect(JSON.stringify(read.body)).not.toMatch(/hmac-sha256|allowed_scope|previous_secret/);
    expect((await call('GET', path(app.client_id!), undefined)).status).toBe(401);
    expect((await call('GET', path(app.client_id!), 'wrong')).body.error).toBe('invalid_token');
  });

  test('configuration as code leaves registered clients alone: export does not write them, and the plan of apply --prune never lists them', async () => {
    const app = await registered();
    const exported = await run<{ clients?: { client_id: string }[] }>(['export']);
    expect((exported.clients ?? []).map((entry) => entry.client_id)).not.toContain(app.client_id);
    expect((await running.server.services.clients.definitions()).map((client) => client.client_id)).not.toContain(app.client_id);
    // The administrator still sees it, marked as registered.
    expect(await running.server.services.clients.get(app.client_id!)).toMatchObject({ registered: true });
  });

  test('the registration access token is stored only as a keyed hash, its payload sealed', async () => {
    const app = await registered();
    const rows = await running.db.prisma.providerArtifact.findMany({ where: { kind: 'RegistrationAccessToken', clientId: app.client_id } });
    expect(rows).toHaveLength(1);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(app.registration_access_token);
    expect(rows[0]!.idHash).not.toBe(app.registration_access_token);
    expect(rows[0]!.payload).not.toContain(app.client_id);
    const tokens = JSON.stringify(await running.db.prisma.initialAccessToken.findMany());
    expect(tokens).not.toMatch(/"token"/);
  });

  test("an update keeps what only an administrator sets: the organization the client belongs to (and its rows' column)", async () => {
    const app = await registered();
    const { organizations, clients } = running.server.services;
    const organization = await organizations.create({ name: 'Registrants' }, { type: 'admin' });
    await clients.update(app.client_id!, { organization_id: organization.id }, { type: 'admin' });
    const updated = await call('PUT', path(app.client_id!), app.registration_access_token, {
      client_id: app.client_id,
      client_name: 'Grace Notes, renamed',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code'],
      scope: 'notes:read',
      organization_id: 'someone-else',
    });
    expect(updated.status).toBe(200);
    expect(await clients.get(app.client_id!)).toMatchObject({ name: 'Grace Notes, renamed', organization_id: organization.id });
    expect((await running.db.prisma.client.findUniqueOrThrow({ where: { id: app.client_id! } })).organizationId).toBe(organization.id);
  });

  test('update: the whole metadata replaced under the same rules, and the access token rotated', async () => {
    const app = await registered();
    const update = {
      client_id: app.client_id,
      client_name: 'Grace Notes 2',
      redirect_uris: ['https://notes.example.com/callback'],
      grant_types: ['authorization_code'],
      scope: 'notes:read',
    };
    const updated = await call('PUT', path(app.client_id!), app.registration_access_token, update);
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      client_name: 'Grace Notes 2',
      redirect_uris: ['https://notes.example.com/callback'],
      grant_types: ['authorization_code'],
    });
    expect(updated.body).not.toHaveProperty('client_secret');
    const rotated = String(updated.body.registration_access_token);
    expect(rotated).not.toBe(app.registration_access_token);
    expect((await call('GET', path(app.client_id!), app.registration_access_token)).status).toBe(401);
    expect((await call('GET', path(app.client_id!), rotated)).body.client_name).toBe('Grace Notes 2');
    // The secret is the one registered: a client-credentials-free client proves it at introspection's door.
    const row = await running.db.prisma.client.findUniqueOrThrow({ where: { id: app.client_id! } });
    expect(row.name).toBe('Grace Notes 2');
    expect(await running.server.services.clients.secretMatches(app.client_id!, app.client_secret!)).toBe(true);

    expectRefusal(
      await call('PUT', path(app.client_id!), rotated, { ...update, redirect_uris: ['javascript:alert(1)'] }),
      'invalid_redirect_uri',
      'redirect_uris',
    );
    // What the token allowed was checked at registration: an update can narrow, never widen.
    expectRefusal(
      await call('PUT', path(app.client_id!), rotated, { ...update, grant_types: ['authorization_code', 'refresh_token'] }),
      'invalid_client_metadata',
      'grant_types',
    );
    expectRefusal(
      await call('PUT', path(app.client_id!), rotated, { ...update, scope: 'notes:write' }),
      'invalid_client_metadata',
      'scope',
    );
    expectRefusal(
      await call('PUT', path(app.client_id!), rotated, { ...update, token_endpoint_auth_method: 'none' }),
      'invalid_client_metadata',
      'token_endpoint_auth_method',
    );
    expect((await call('PUT', path(app.client_id!), rotated, { ...update, client_id: 'someone-else' })).body.error).toBe('invalid_request');
    // RFC 7592 section 2.2: the secret may be sent back, and must then be the client's.
    const wrongSecret = await call('PUT', path(app.client_id!), rotated, { ...update, client_secret: 'not-the-secret' });
    expect([wrongSecret.status, wrongSecret.body.error]).toEqual([400, 'invalid_request']);
    const hashSent = await call('PUT', path(app.client_id!), rotated, { ...update, client_secret: row.secretHash });
    expect([hashSent.status, hashSent.body.error]).toEqual([400, 'invalid_request']);
    const withSecret = await call('PUT', path(app.client_id!), rotated, {
      ...update,
      client_name: 'Echoed',
      client_secret: app.client_secret,
    });
    expect(withSecret.status).toBe(200);
    expect(withSecret.body).toMatchObject({ client_name: 'Echoed' });
    expect(withSecret.body).not.toHaveProperty('client_secret');
    expect(await running.server.services.clients.secretMatches(app.client_id!, app.client_secret!)).toBe(true);
    expect((await running.db.prisma.client.findUniqueOrThrow({ where: { id: app.client_id! } })).name).toBe('Echoed');
    // Metadata Portcullis keeps for oidc-provider cannot be set by an update either.
    const newest = String(withSecret.body.registration_access_token);
    const smuggled = await call('PUT', path(app.client_id!), newest, { ...update, allowed_scope: 'admin:write', default_resource: API });
    expect(smuggled.status).toBe(200);
    const stored = await running.db.prisma.client.findUniqueOrThrow({ where: { id: app.client_id! } });
    expect(JSON.stringify(stored.metadata)).not.toMatch(/admin:write|default_resource/);
  });

  test("delete: 204, and the client's tokens stop working", async () => {
    const made = await makeToken('--grant', 'client_credentials', '--scope', 'notes:read');
    const answer = await register(made.token, {
      client_name: 'Short-lived',
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'notes:read',
    });
    expect(answer.status).toBe(201);
    const { client_id: clientId, client_secret: secret, registration_access_token: rat } = answer.body as Record<string, string>;
    const issued = await fetch(`${running.url}/token`, {
      method: 'POST',
      headers: basicAuth(clientId, secret),
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    const { access_token: accessToken } = (await issued.json()) as { access_token: string };
    // A resource server (an administrator's client) asks whether the token is live.
    const server = await run<{ client_id: string; client_secret: string }>([
      'client',
      'create',
      '--name',
      'notes API',
      '--grant',
      'client_credentials',
    ]);
    const active = async () => {
      const response = await fetch(`${running.url}/token/introspection`, {
        method: 'POST',
        headers: basicAuth(server.client_id, server.client_secret),
        body: new URLSearchParams({ token: accessToken }),
      });
      return ((await response.json()) as { active: boolean }).active;
    };
    expect(await active()).toBe(true);

    const deleted = await call('DELETE', path(clientId!), rat);
    expect(deleted.status).toBe(204);
    expect(await running.db.prisma.client.findUnique({ where: { id: clientId! } })).toBeNull();
    expect(await running.db.prisma.providerArtifact.count({ where: { clientId: clientId! } })).toBe(0);
    expect(await active()).toBe(false);
    expect((await call('GET', path(clientId!), rat)).status).toBe(401);
    // And it can no longer authenticate.
    const again = await fetch(`${running.url}/token`, {
      method: 'POST',
      headers: basicAuth(clientId, secret),
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    expect(again.status).toBe(401);
  });

  test("an administrator's client can never be changed or deleted through registration", async () => {
    const admins = await run<{ client_id: string }>([
      'client',
      'create',
      '--name',
      'Admin-made',
      '--grant',
      'authorization_code',
      '--redirect-uri',
      REDIRECT,
    ]);
    const app = await registered();
    // oidc-provider refuses a registration access token for another client (and revokes it).
    expect((await call('GET', path(admins.client_id), app.registration_access_token)).body.error).toBe('invalid_token');
    expect((await call('DELETE', path(admins.client_id), app.registration_access_token)).status).toBe(401);
    // And the service refuses it whoever asks.
    const { clients } = running.server.services;
    const actor = { type: 'client' as const, id: admins.client_id };
    await expect(clients.deleteRegistered(admins.client_id, actor)).rejects.toThrow(/not found/);
    await expect(
      clients.updateRegistered(admins.client_id, { name: 'x', grant_types: ['authorization_code'] }, new Set(), actor),
    ).rejects.toThrow(/not found/);
    expect(await running.db.prisma.client.findUnique({ where: { id: admins.client_id } })).not.toBeNull();
  });
});

describe('the admin API', () => {
  test('makes a token (shown once), lists tokens without them, and deletes one', async () => {
    const { token: bearer } = await adminCaller(running, 'admin:write');
    const admin = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${running.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${bearer}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    };
    const created = await admin('POST', '/admin/registration-tokens', {
      uses: 2,
      expires_in_seconds: 3600,
      grant_types: ['client_credentials'],
      scope: 'notes:read',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ uses_left: 2, uses: 0, grant_types: ['client_credentials'], scope: 'notes:read' });
    expect(Date.parse(created.body.expires_at) - Date.now()).toBeGreaterThan(3500_000);
    const answer = await register(created.body.token, {
      client_name: 'From the API',
      grant_types: ['client_credentials'],
      response_types: [],
    });
    expect(answer.status).toBe(201);

    const listed = await admin('GET', '/admin/registration-tokens');
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual(expect.arrayContaining([expect.objectContaining({ id: created.body.id, uses_left: 1, uses: 1 })]));
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token);
    expect(listed.body.every((item: object) => !('token' in item))).toBe(true);

    expect((await admin('POST', '/admin/registration-tokens', { uses: 0 })).body).toMatchObject({ error: 'invalid_input', field: 'uses' });
    expect((await admin('POST', '/admin/registration-tokens', { grant_types: ['password'] })).body).toMatchObject({ field: 'grant_types' });
    expect((await admin('DELETE', `/admin/registration-tokens/${created.body.id}`)).status).toBe(204);
    expect((await admin('DELETE', `/admin/registration-tokens/${created.body.id}`)).status).toBe(404);
    expect(
      (await register(created.body.token, { client_name: 'Too late', grant_types: ['client_credentials'], response_types: [] })).status,
    ).toBe(401);
  });
});

describe('the audit log', () => {
  test('records tokens made and deleted, and clients registered, updated and deleted, by who did it, never a token', async () => {
    const made = await makeToken('--scope', 'notes:read');
    const answer = await register(made.token, webApp);
    const { client_id: clientId, registration_access_token: rat } = answer.body as Record<string, string>;
    const updated = await call('PUT', `/reg/${clientId}`, rat, { client_id: clientId, ...webApp, client_name: 'Audited' });
    expect(updated.status).toBe(200);
    expect((await call('DELETE', `/reg/${clientId}`, String(updated.body.registration_access_token))).status).toBe(204);
    await run(['client', 'registration-token', 'delete', made.id]);

    const events = await running.db.prisma.auditEvent.findMany({ orderBy: { at: 'asc' } });
    const about = (subject: string) =>
      events.filter((event) => event.subject === subject).map((event) => [event.type, event.actorType, event.actorId]);
    expect(about(made.id)).toEqual([
      ['registration_token.created', 'admin', null],
      ['registration_token.deleted', 'admin', null],
    ]);
    expect(about(clientId!)).toEqual([
      ['client.registered', 'initial_access_token', made.id],
      ['client.updated', 'client', clientId],
      ['client.deleted', 'client', clientId],
    ]);
    const dump = JSON.stringify(events);
    expect(dump).not.toContain(made.token);
    expect(dump).not.toContain(rat);
  });
});
