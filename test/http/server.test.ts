// The server over real HTTP: discovery, JWKS, the token endpoint, health. Driven by
// oauth4webapi, a client library that knows nothing of Portcullis.
import * as oauth from 'oauth4webapi';
import { decryptPrivateJwk } from '../../src/crypto/index.ts';
import { adminCaller } from '../support/admin.ts';
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { basicAuth } from '../support/browser.ts';

let running: RunningServer;
/** Every log line of the server, as pino wrote it. */
const logs: string[] = [];
let as: oauth.AuthorizationServer;
let client: { client_id: string; client_secret: string };

beforeAll(async () => {
  running = await startServer({}, { logs });
  const issuer = new URL(running.url);
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oidc', [oauth.allowInsecureRequests]: true }),
  );
  const created = await cli(
    ['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--scope', 'read write', '--json'],
    running.env,
  );
  expect(created.code).toBe(0);
  client = created.json();
});
afterAll(() => running.stop());

function clientCredentials(secret: string, parameters: Record<string, string> = {}) {
  return oauth.clientCredentialsGrantRequest(
    as,
    { client_id: client.client_id },
    oauth.ClientSecretBasic(secret),
    new URLSearchParams(parameters),
    {
      [oauth.allowInsecureRequests]: true,
    },
  );
}

describe('discovery', () => {
  test('OpenID and RFC 8414 documents are served, identical, for this issuer', async () => {
    const openid = (await (await fetch(`${running.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    const oauthMetadata = await (await fetch(`${running.url}/.well-known/oauth-authorization-server`)).json();
    expect(oauthMetadata).toEqual(openid);
    expect(openid.issuer).toBe(running.url);
    expect(openid.token_endpoint).toBe(`${running.url}/token`);
    expect(openid.jwks_uri).toBe(`${running.url}/jwks`);
    expect(openid.grant_types_supported).toEqual(expect.arrayContaining(['client_credentials']));
    expect(openid.grant_types_supported).not.toContain('implicit');
    expect(openid.response_types_supported).toEqual(['code']);
    expect(openid.introspection_endpoint).toBe(`${running.url}/token/introspection`);
  });
});

describe('JWKS', () => {
  test('publishes the current and next keys created on first start, public parts only', async () => {
    const response = await fetch(`${running.url}/jwks`);
    expect(response.status).toBe(200);
    const { keys } = (await response.json()) as { keys: Record<string, string>[] };
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(key).not.toHaveProperty('d');
    }
    const stored = await running.db.prisma.signingKey.findMany();
    expect(stored.map((key) => key.state).sort()).toEqual(['current', 'next']);
    expect(keys.map((key) => key.kid).sort()).toEqual(stored.map((key) => key.kid).sort());
  });

  test('the stored private key is a JWE that only the key-encryption key opens', async () => {
    for (const stored of await running.db.prisma.signingKey.findMany()) {
      expect(stored.privateJwkEncrypted.split('.')).toHaveLength(5);
      const jwk = await decryptPrivateJwk(running.config.keyEncryptionKey, stored.privateJwkEncrypted);
      expect(typeof jwk.d).toBe('string');
      expect(stored.privateJwkEncrypted).not.toContain(jwk.d!);
      expect(JSON.stringify(stored.publicJwk)).not.toContain(jwk.d!);
      expect(stored.publicJwk).toMatchObject({ x: jwk.x, y: jwk.y });
    }
  });

  test('/jwks/ with a trailing slash is the same cacheable document', async () => {
    const response = await fetch(`${running.url}/jwks/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toMatch(/max-age=/);
    expect(response.headers.get('etag')).toBe((await fetch(`${running.url}/jwks`)).headers.get('etag'));
  });
});

describe('token endpoint', () => {
  test('client credentials with HTTP Basic yields a Bearer token for the registered scope', async () => {
    const result = await oauth.processClientCredentialsResponse(
      as,
      { client_id: client.client_id },
      await clientCredentials(client.client_secret),
    );
    expect(result.token_type).toBe('bearer');
    expect(result.expires_in).toBe(900);
    expect(result.scope).toBe('read write');
    expect(result.access_token.length).toBeGreaterThanOrEqual(43);
  });

  test('asking for a subset of the scope gets that subset', async () => {
    const result = await oauth.processClientCredentialsResponse(
      as,
      { client_id: client.client_id },
      await clientCredentials(client.client_secret, { scope: 'read' }),
    );
    expect(result.scope).toBe('read');
  });

  test('client_secret_post is accepted too', async () => {
    const response = await fetch(`${running.url}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  test('a scope the client was not registered with is invalid_scope (400), not dropped', async () => {
    const response = await clientCredentials(client.client_secret, { scope: 'read admin' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_scope' });
  });

  test('a wrong secret is invalid_client (401)', async () => {
    const last = client.client_secret.at(-1) === 'A' ? 'B' : 'A';
    const response = await clientCredentials(`${client.client_secret.slice(0, -1)}${last}`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  test('an unknown client is invalid_client (401)', async () => {
    const response = await fetch(`${running.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('nobody:secret').toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });

  test('a grant type the client may not use is unauthorized_client', async () => {
    const response = await fetch(`${running.url}/token`, {
      method: 'POST',
      headers: basicAuth(client.client_id, client.client_secret),
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'unauthorized_client' });
  });

  test('the issued token is live at introspection and stored only as a hash', async () => {
    const { access_token } = await oauth.processClientCredentialsResponse(
      as,
      { client_id: client.client_id },
      await clientCredentials(client.client_secret),
    );
    const introspection = await oauth.introspectionRequest(
      as,
      { client_id: client.client_id },
      oauth.ClientSecretBasic(client.client_secret),
      access_token,
      {
        [oauth.allowInsecureRequests]: true,
      },
    );
    const claims = await oauth.processIntrospectionResponse(as, { client_id: client.client_id }, introspection);
    expect(claims).toMatchObject({ active: true, client_id: client.client_id, scope: 'read write' });

    const rows = await running.db.prisma.providerArtifact.findMany();
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain(access_token);
  });
});

describe('hostile input', () => {
  test.each([
    ['a NUL in client_id (post)', { grant_type: 'client_credentials', client_id: 'a\u0000b', client_secret: 'x' }, 401, 'invalid_client'],
    ['a NUL in resource', { grant_type: 'client_credentials', resource: 'https://api.example.com/\u0000' }, 400, 'invalid_target'],
    ['a NUL in scope', { grant_type: 'client_credentials', scope: 'read\u0000' }, 400, undefined],
  ])('%s is a 4xx, never a 500', async (_name, parameters, status, error) => {
    const form = parameters as Record<string, string>;
    const headers: Record<string, string> = form.client_id ? {} : basicAuth(client.client_id, client.client_secret);
    const response = await fetch(`${running.url}/token`, { method: 'POST', headers, body: new URLSearchParams(form) });
    expect(response.status).toBe(status);
    if (error) expect(await response.json()).toMatchObject({ error });
  });
});

describe('health', () => {
  test('/healthz and /readyz answer', async () => {
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${running.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok' });
  });
});

describe('security headers', () => {
  test("API answers carry OWASP's API set; pages carry the full policy; every answer has a request id", async () => {
    const token = await fetch(`${running.url}/token`, {
      method: 'POST',
      headers: { ...basicAuth(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(token.status).toBe(200);
    expect(token.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(token.headers.get('x-frame-options')).toBe('DENY');
    expect(token.headers.get('x-content-type-options')).toBe('nosniff');
    expect(token.headers.get('cache-control')).toBe('no-store');
    expect(token.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // A path in another letter case reaches the same endpoint and gets the stricter page set.
    const other = await fetch(`${running.url}/Token`, { method: 'POST' });
    expect(other.headers.get('content-security-policy')).toContain("script-src 'self'");
    for (const path of ['/jwks', '/.well-known/openid-configuration', '/healthz', '/admin/clients']) {
      const response = await fetch(`${running.url}${path}`);
      expect([path, response.headers.get('content-security-policy')]).toEqual([path, "default-src 'none'; frame-ancestors 'none'"]);
    }
    // The POST-only endpoints of PAR, device authorization and registration (a 405 or 404 is answered with them too).
    for (const path of ['/request', '/device/auth', '/reg', '/reg/some-client']) {
      const response = await fetch(`${running.url}${path}`, { method: 'POST' });
      expect([path, response.headers.get('content-security-policy')]).toEqual([path, "default-src 'none'; frame-ancestors 'none'"]);
    }
    const page = await fetch(`${running.url}/account`, { redirect: 'manual' });
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('content-security-policy')).toContain("style-src 'self'");
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  });
});

describe('private error detail', () => {
  const adminToken = async () => (await adminCaller(running, 'admin:write')).token;

  /**
   * Creations of one user at once: each checks the email is free, then hashes the password (tens
   * of milliseconds), then inserts, so all but one meet the unique constraint. A round in which
   * one insert was done before another's check proves nothing; a few rounds always give a loser.
   */
  async function conflictFromTheDatabase(token: string): Promise<Response> {
    for (let round = 0; round < 5; round += 1) {
      const email = `race-${round}@example.com`;
      const responses = await Promise.all(
        Array.from({ length: 3 }, () =>
          fetch(`${running.url}/admin/users`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ email, password: 'a long enough password' }),
          }),
        ),
      );
      expect(responses.filter((response) => response.status === 201)).toHaveLength(1);
      for (const response of responses.filter((candidate) => candidate.status === 409)) {
        const body = (await response.clone().json()) as { error_description?: string };
        if (body.error_description === 'it already exists') return response;
      }
    }
    throw new Error('no creation met the unique constraint');
  }

  test("a conflict's detail (the constraint's fields) is logged with the request id, never answered", async () => {
    const response = await conflictFromTheDatabase(await adminToken());
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ error: 'conflict', error_description: 'it already exists' });
    expect(text).not.toMatch(/email|unique|constraint/i);
    const requestId = response.headers.get('x-request-id');
    const logged = logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.requestId === requestId);
    expect(logged).toContainEqual(
      expect.objectContaining({ level: 40, error: 'conflict', detail: 'unique constraint on User (email)', msg: 'it already exists' }),
    );
  });
});
