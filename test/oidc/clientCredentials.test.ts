// Services and resource servers end to end: client credentials for an API resource, verified
// offline by jose against the published JWKS, with the RFC errors for everything that is wrong.
import * as oauth from 'oauth4webapi';
import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type JWK,
} from 'jose';
import { cli, cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const ORDERS = 'https://orders.example.com';
const REPORTS = 'https://reports.example.com/api';
let running: RunningServer;
let as: oauth.AuthorizationServer;
let service: { client_id: string; client_secret: string };
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** The CLI against this file's server, with --json; a failure throws. */
const run = (args: string[], stdin = '') => cliJson<Record<string, string>>(args, running.env, stdin);

beforeAll(async () => {
  running = await startServer();
  const issuer = new URL(running.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  await run(['resource', 'create', '--audience', ORDERS, '--scope', 'orders:read orders:write', '--ttl', '600']);
  await run(['resource', 'create', '--audience', REPORTS, '--scope', 'reports:read']);
  service = (await run([
    'client',
    'create',
    '--name',
    'billing',
    '--grant',
    'client_credentials',
    '--scope',
    'orders:read orders:write reports:read',
  ])) as typeof service;
});
afterAll(() => running.stop());

function tokenRequest(clientId: string, auth: oauth.ClientAuth, parameters: Record<string, string | string[]>) {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) for (const item of [value].flat()) body.append(name, item);
  return oauth.clientCredentialsGrantRequest(as, { client_id: clientId }, auth, body, insecure);
}
const withSecret = (parameters: Record<string, string | string[]>, secret = service.client_secret) =>
  tokenRequest(service.client_id, oauth.ClientSecretBasic(secret), parameters);

async function verify(token: string, audience: string) {
  // A verifier that knows only the issuer: keys from the published JWKS, RFC 9068 checks.
  const jwks = createRemoteJWKSet(new URL(as.jwks_uri!));
  return jwtVerify(token, jwks, { issuer: as.issuer, audience, typ: 'at+jwt' });
}

describe('API resources', () => {
  test('resource list shows what was created; a duplicate audience or bad input is refused', async () => {
    const listed = await cli(['resource', 'list', '--json'], running.env);
    expect(listed.json<{ audience: string; scope: string; access_token_ttl: number }[]>()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ audience: ORDERS, scope: 'orders:read orders:write', access_token_ttl: 600 }),
        expect.objectContaining({ audience: REPORTS, access_token_ttl: 900 }),
      ]),
    );
    expect(
      JSON.parse((await cli(['resource', 'create', '--audience', ORDERS, '--scope', 'x', '--json'], running.env)).stderr),
    ).toMatchObject({ error: 'conflict' });
    for (const [args, field] of [
      [['--audience', 'not-a-uri', '--scope', 'x'], 'audience'],
      [['--audience', 'https://a.example/#frag', '--scope', 'x'], 'audience'],
      [['--audience', 'https://b.example', '--scope', 'x', '--ttl', '7200'], 'ttl'],
      [['--audience', 'https://c.example', '--scope', 'x', '--ttl', '30'], 'ttl'],
    ] as const) {
      const result = await cli(['resource', 'create', ...args, '--json'], running.env);
      expect(result.code).toBe(1);
      expect(JSON.parse(result.stderr)).toMatchObject({ field });
    }
  });
});

describe('client credentials for an API', () => {
  test('the token is an RFC 9068 JWT for that audience, verified offline against the JWKS', async () => {
    const response = await withSecret({ resource: ORDERS, scope: 'orders:read' });
    const result = await oauth.processClientCredentialsResponse(as, { client_id: service.client_id }, response);
    expect(result.expires_in).toBe(600);
    const { payload, protectedHeader } = await verify(result.access_token, ORDERS);
    expect(protectedHeader).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    expect(payload).toMatchObject({
      iss: running.url,
      sub: service.client_id,
      client_id: service.client_id,
      aud: ORDERS,
      scope: 'orders:read',
    });
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(typeof payload.jti).toBe('string');
    const keys = (await cli(['keys', 'list', '--json'], running.env)).json<{ kid: string; state: string }[]>();
    expect(protectedHeader.kid).toBe(keys.find((key) => key.state === 'current')!.kid);
  });

  test('without scope the token carries what the client may ask and the API accepts', async () => {
    const result = await oauth.processClientCredentialsResponse(
      as,
      { client_id: service.client_id },
      await withSecret({ resource: REPORTS }),
    );
    const { payload } = await verify(result.access_token, REPORTS);
    expect(payload.scope).toBe('reports:read');
    expect(payload.exp! - payload.iat!).toBe(900);
  });

  test('a token for one API does not verify for another', async () => {
    const result = await oauth.processClientCredentialsResponse(
      as,
      { client_id: service.client_id },
      await withSecret({ resource: REPORTS }),
    );
    await expect(verify(result.access_token, ORDERS)).rejects.toThrow(/aud/);
  });

  test('a client with a default resource gets tokens for it without naming it', async () => {
    const client = await run([
      'client',
      'create',
      '--name',
      'reporter',
      '--grant',
      'client_credentials',
      '--scope',
      'reports:read',
      '--default-resource',
      REPORTS,
    ]);
    const response = await tokenRequest(client.client_id!, oauth.ClientSecretPost(client.client_secret!), {});
    const result = await oauth.processClientCredentialsResponse(as, { client_id: client.client_id! }, response);
    expect((await verify(result.access_token, REPORTS)).payload.aud).toBe(REPORTS);
    // ...and an unknown default resource cannot be configured.
    const refused = await cli(
      ['client', 'create', '--name', 'x', '--grant', 'client_credentials', '--default-resource', 'https://nowhere.example', '--json'],
      running.env,
    );
    expect(JSON.parse(refused.stderr)).toMatchObject({ field: 'default_resource' });
  });

  test.each([
    ['a scope the API does not accept', { resource: REPORTS, scope: 'orders:read' }],
    ['a scope the client may not ask for', { resource: ORDERS, scope: 'orders:admin' }],
    ['one good and one bad scope', { resource: ORDERS, scope: 'orders:read orders:delete' }],
  ])('%s is invalid_scope (400)', async (_name, parameters) => {
    const response = await withSecret(parameters);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_scope' });
  });

  test.each([
    ['an unknown resource', { resource: 'https://unknown.example.com' }],
    ['a resource that is not an absolute URI', { resource: 'orders' }],
    ['two resources at once', { resource: [ORDERS, REPORTS] }],
  ])('%s is invalid_target (400)', async (_name, parameters) => {
    const response = await withSecret(parameters);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_target' });
  });

  test('a wrong secret and an unknown client are invalid_client (401)', async () => {
    const wrong = await withSecret({ resource: ORDERS }, 'x'.repeat(43));
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    const unknown = await tokenRequest('no-such-client', oauth.ClientSecretBasic('secret'), { resource: ORDERS });
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ error: 'invalid_client' });
  });
});

describe('private_key_jwt', () => {
  test('a client that registered its public key authenticates with a signed assertion, and only with its own key', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'svc-key-1', alg: 'ES256', use: 'sig' }] });
    const created = await run([
      'client',
      'create',
      '--name',
      'keyed',
      '--grant',
      'client_credentials',
      '--scope',
      'orders:read',
      '--auth-method',
      'private_key_jwt',
      '--jwks',
      jwks,
    ]);
    expect(created).not.toHaveProperty('client_secret');

    const response = await tokenRequest(created.client_id!, oauth.PrivateKeyJwt({ key: privateKey, kid: 'svc-key-1' }), {
      resource: ORDERS,
    });
    const result = await oauth.processClientCredentialsResponse(as, { client_id: created.client_id! }, response);
    expect((await verify(result.access_token, ORDERS)).payload).toMatchObject({ client_id: created.client_id, scope: 'orders:read' });

    const impostor = await generateKeyPair('ES256');
    const refused = await tokenRequest(created.client_id!, oauth.PrivateKeyJwt({ key: impostor.privateKey, kid: 'svc-key-1' }), {
      resource: ORDERS,
    });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: 'invalid_client' });
  });

  test('one client assertion sent by many requests at once is honoured exactly once', async () => {
    // RFC 7523 section 3: the jti of an assertion may be used once; the record is claimed atomically.
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'once-1', alg: 'ES256', use: 'sig' }] });
    const created = await run([
      'client',
      'create',
      '--name',
      'once',
      '--grant',
      'client_credentials',
      '--auth-method',
      'private_key_jwt',
      '--jwks',
      jwks,
    ]);
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: 'once-1' })
      .setIssuer(created.client_id!)
      .setSubject(created.client_id!)
      .setAudience(as.issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(as.token_endpoint!, { method: 'POST', body })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, ...Array<number>(9).fill(401)]);
  });

  test('a private key offered as the public JWKS is refused', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwks = JSON.stringify({ keys: [await exportJWK(privateKey)] });
    const result = await cli(
      [
        'client',
        'create',
        '--name',
        'leaky',
        '--grant',
        'client_credentials',
        '--auth-method',
        'private_key_jwt',
        '--jwks',
        jwks,
        '--json',
      ],
      running.env,
    );
    expect(JSON.parse(result.stderr)).toMatchObject({ field: 'jwks' });
  });
});

describe('client secret rotation', () => {
  test('with a grace period both secrets work until it ends, then only the new one', async () => {
    const client = await run(['client', 'create', '--name', 'rotating', '--grant', 'client_credentials', '--scope', 'orders:read']);
    const rotated = await run(['client', 'secret', 'rotate', client.client_id!, '--grace', '1h']);
    expect(rotated.client_secret).not.toBe(client.client_secret);
    expect(Date.parse(rotated.previous_secret_expires_at!) - Date.now()).toBeGreaterThan(3500_000);
    const request = (secret: string) => tokenRequest(client.client_id!, oauth.ClientSecretBasic(secret), { resource: ORDERS });
    expect((await request(client.client_secret!)).status).toBe(200);
    expect((await request(rotated.client_secret!)).status).toBe(200);

    // The grace period ends.
    await running.db.prisma.client.update({
      where: { id: client.client_id! },
      data: { previousSecretExpiresAt: new Date(Date.now() - 1000) },
    });
    // Changed behind the service's back: the client lookup cache (CLIENT_CACHE_MS) must expire first.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await request(client.client_secret!)).status).toBe(401);
    expect((await request(rotated.client_secret!)).status).toBe(200);
  });

  test('with no grace the old secret stops at once; the database never holds either secret', async () => {
    const client = await run(['client', 'create', '--name', 'rotating-now', '--grant', 'client_credentials']);
    const rotated = await run(['client', 'secret', 'rotate', client.client_id!, '--grace', '0']);
    const request = (secret: string) => tokenRequest(client.client_id!, oauth.ClientSecretBasic(secret), {});
    expect((await request(client.client_secret!)).status).toBe(401);
    expect((await request(rotated.client_secret!)).status).toBe(200);
    const dump = JSON.stringify(await running.db.prisma.client.findMany());
    expect(dump).not.toContain(client.client_secret);
    expect(dump).not.toContain(rotated.client_secret);
  });

  test('rotating an unknown client, a keyless client or with a bad grace is refused', async () => {
    expect(JSON.parse((await cli(['client', 'secret', 'rotate', 'nope', '--json'], running.env)).stderr)).toMatchObject({
      error: 'not_found',
    });
    expect(
      JSON.parse((await cli(['client', 'secret', 'rotate', service.client_id, '--grace', 'soon', '--json'], running.env)).stderr),
    ).toMatchObject({ field: 'grace_seconds' });
    const { privateKey: _unused, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const keyless = await run([
      'client',
      'create',
      '--name',
      'keyless',
      '--grant',
      'client_credentials',
      '--auth-method',
      'private_key_jwt',
      '--jwks',
      JSON.stringify({ keys: [await exportJWK(publicKey)] }),
    ]);
    const refused = await cli(['client', 'secret', 'rotate', keyless.client_id!, '--json'], running.env);
    expect(JSON.parse(refused.stderr)).toMatchObject({ error: 'invalid_input', field: 'client_id' });
  });
});

describe('introspection and revocation', () => {
  test('discovery advertises both', () => {
    expect(as.introspection_endpoint).toBe(`${running.url}/token/introspection`);
    expect(as.revocation_endpoint).toBe(`${running.url}/token/revocation`);
  });

  test('a resource server authenticated as a client introspects a token; revocation ends it', async () => {
    const api = await run(['client', 'create', '--name', 'orders-api', '--grant', 'client_credentials']);
    const { access_token } = await oauth.processClientCredentialsResponse(as, { client_id: service.client_id }, await withSecret({}));
    const introspect = async () =>
      oauth.processIntrospectionResponse(
        as,
        { client_id: api.client_id! },
        await oauth.introspectionRequest(
          as,
          { client_id: api.client_id! },
          oauth.ClientSecretBasic(api.client_secret!),
          access_token,
          insecure,
        ),
      );
    expect(await introspect()).toMatchObject({
      active: true,
      client_id: service.client_id,
      scope: 'orders:read orders:write reports:read',
    });

    const revocation = await oauth.revocationRequest(
      as,
      { client_id: service.client_id },
      oauth.ClientSecretBasic(service.client_secret),
      access_token,
      insecure,
    );
    await oauth.processRevocationResponse(revocation);
    expect(await introspect()).toMatchObject({ active: false });
  });

  test('introspection without client authentication is refused', async () => {
    const response = await fetch(as.introspection_endpoint!, { method: 'POST', body: new URLSearchParams({ token: 'x' }) });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });
});

test('tokens name their signing key by its RFC 7638 thumbprint', async () => {
  const { access_token } = await oauth.processClientCredentialsResponse(
    as,
    { client_id: service.client_id },
    await withSecret({ resource: ORDERS }),
  );
  const { kid } = decodeProtectedHeader(access_token);
  const { keys } = (await (await fetch(as.jwks_uri!)).json()) as { keys: JWK[] };
  const key = keys.find((candidate) => candidate.kid === kid)!;
  expect(await calculateJwkThumbprint(key)).toBe(kid);
});

test('a client cannot revoke a token issued to another client (RFC 7009 section 2.1)', async () => {
  const other = await run(['client', 'create', '--name', 'other', '--grant', 'client_credentials']);
  const { access_token } = await oauth.processClientCredentialsResponse(as, { client_id: service.client_id }, await withSecret({}));
  const response = await oauth.revocationRequest(
    as,
    { client_id: other.client_id! },
    oauth.ClientSecretBasic(other.client_secret!),
    access_token,
    insecure,
  );
  expect(response.status).toBe(400);
  expect(await response.json()).toMatchObject({ error: 'unauthorized_client' });
  const api = await run(['client', 'create', '--name', 'checker', '--grant', 'client_credentials']);
  const introspection = await oauth.introspectionRequest(
    as,
    { client_id: api.client_id! },
    oauth.ClientSecretBasic(api.client_secret!),
    access_token,
    insecure,
  );
  expect(await oauth.processIntrospectionResponse(as, { client_id: api.client_id! }, introspection)).toMatchObject({ active: true });
});

describe('introspection of JWT access tokens', () => {
  test('a JWT for an API is active with its claims; a tampered one is not; revoking one is unsupported', async () => {
    const api = await run(['client', 'create', '--name', 'jwt-checker', '--grant', 'client_credentials']);
    const { access_token } = await oauth.processClientCredentialsResponse(
      as,
      { client_id: service.client_id },
      await withSecret({ resource: ORDERS, scope: 'orders:read' }),
    );
    const introspect = async (token: string) =>
      oauth.processIntrospectionResponse(
        as,
        { client_id: api.client_id! },
        await oauth.introspectionRequest(as, { client_id: api.client_id! }, oauth.ClientSecretBasic(api.client_secret!), token, insecure),
      );
    expect(await introspect(access_token)).toMatchObject({
      active: true,
      aud: ORDERS,
      scope: 'orders:read',
      client_id: service.client_id,
      sub: service.client_id,
      iss: running.url,
    });
    const [header, payload] = access_token.split('.');
    expect(await introspect(`${header}.${payload}.${'A'.repeat(86)}`)).toEqual({ active: false });
    expect(await introspect('eyJhbGciOiJub25lIn0.e30.')).toEqual({ active: false });

    // RFC 7009 section 2.2.1: a JWT cannot be revoked before it expires; the server says so.
    const revocation = await oauth.revocationRequest(
      as,
      { client_id: service.client_id },
      oauth.ClientSecretBasic(service.client_secret),
      access_token,
      insecure,
    );
    expect(revocation.status).toBe(400);
    expect(await revocation.json()).toMatchObject({ error: 'unsupported_token_type' });
  });
});
