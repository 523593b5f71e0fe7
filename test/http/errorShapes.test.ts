// Bad requests get the answer of the surface they hit, over real HTTP: a wrong method on a
// POST-only OAuth endpoint is 405 with Allow (RFC 6749 section 3.2, RFC 9110 section 15.5.6), an
// oversized body is 413 everywhere, an unknown path is a JSON 404 under the API prefixes and the
// error page elsewhere, and discovery may be cached.
import http from 'node:http';
import * as client from 'openid-client';
import { basicAuth, csrfFrom, pkceAuthorization, signIn, UserAgent } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8125/callback';
const EMAIL = 'shapes@example.com';
const PASSWORD = 'a long enough passphrase';
/** Larger than every body limit: oidc-provider's 56 KiB, the admin API's 64 kB, the forms' 16 kB. */
const HUGE = 100_000;

let running: RunningServer;
let service: { client_id: string; client_secret: string };
let adminToken: string;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One request with node:http, so that any method (fetch refuses a body on GET and HEAD and
 * rewrites some methods) and a chunked body (no Content-Length) can be sent as they are.
 */
function request(
  method: string,
  path: string,
  { headers = {}, body, chunked = false }: { headers?: Record<string, string>; body?: string; chunked?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(new URL(path, running.url), { method, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    outgoing.on('error', reject);
    if (body !== undefined) {
      if (chunked) {
        const bytes = Buffer.from(body);
        for (let at = 0; at < bytes.length; at += 8192) outgoing.write(bytes.subarray(at, at + 8192));
      } else {
        outgoing.setHeader('content-length', Buffer.byteLength(body));
        outgoing.write(body);
      }
    }
    outgoing.end();
  });
}

const json = (answer: Answer) => JSON.parse(answer.body) as Record<string, unknown>;
const form = { 'content-type': 'application/x-www-form-urlencoded' };

beforeAll(async () => {
  running = await startServer();
  const { clients, users } = running.server.services;
  service = (await clients.create(
    { name: 'svc', grant_types: ['client_credentials'], scope: 'admin:write' },
    { type: 'admin' },
  )) as typeof service;
  const token = await fetch(`${running.url}/token`, {
    method: 'POST',
    headers: basicAuth(service.client_id, service.client_secret),
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${running.url}/admin` }),
  });
  adminToken = ((await token.json()) as { access_token: string }).access_token;
  await users.create({ email: EMAIL, password: PASSWORD }, { type: 'admin' });
});
afterAll(() => running.stop());

const POST_ONLY = ['/token', '/token/introspection', '/token/revocation'];
/** Other spellings oidc-provider routes to the same endpoints: ASCII case, one trailing slash. */
const SPELLINGS = ['/TOKEN', '/token/', '/Token/Introspection/', '/token/REVOCATION'];

describe('a method other than POST on the token, introspection and revocation endpoints', () => {
  test.each([...POST_ONLY, ...SPELLINGS].flatMap((path) => ['GET', 'PUT', 'DELETE', 'PATCH'].map((method) => [method, path])))(
    '%s %s is 405 with Allow: POST and an RFC 6749 error',
    async (method, path) => {
      const answer = await request(method, path);
      expect(answer.status).toBe(405);
      expect(answer.headers.allow).toBe('POST');
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(json(answer)).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('POST') });
    },
  );

  test.each([...POST_ONLY, '/TOKEN/'])('HEAD %s is 405 with Allow: POST and no body', async (path) => {
    const answer = await request('HEAD', path);
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('POST');
    expect(answer.body).toBe('');
  });

  test("a CORS preflight keeps oidc-provider's answer; a plain OPTIONS is told Allow: POST", async () => {
    for (const path of [...POST_ONLY, '/TOKEN/']) {
      const preflight = await request('OPTIONS', path, {
        headers: { origin: 'https://spa.example', 'access-control-request-method': 'POST' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-methods']).toBe('POST');
      expect(preflight.headers['access-control-allow-origin']).toBe('https://spa.example');
      const plain = await request('OPTIONS', path);
      expect(plain.status).toBe(204);
      expect(plain.headers.allow).toBe('POST');
    }
  });

  test('POST still reaches the endpoints, in every spelling', async () => {
    for (const path of [...POST_ONLY, ...SPELLINGS]) {
      const answer = await request('POST', path, { headers: { ...form, ...basicAuth(service.client_id, 'wrong') }, body: 'token=x' });
      expect(answer.status).toBe(401);
      expect(json(answer).error).toBe('invalid_client');
    }
    const token = await request('POST', '/TOKEN/', {
      headers: { ...form, ...basicAuth(service.client_id, service.client_secret) },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${running.url}/admin` }).toString(),
    });
    expect(token.status).toBe(200);
  });
});

describe('a body over the size limit is 413', () => {
  const huge = `token=${'x'.repeat(HUGE)}`;
  test.each([...POST_ONLY, '/TOKEN/'].flatMap((path) => [false, true].map((chunked) => [path, chunked] as const)))(
    'POST %s (chunked: %s) is 413 request_too_large in JSON',
    async (path, chunked) => {
      const answer = await request('POST', path, {
        headers: { ...form, ...basicAuth(service.client_id, service.client_secret) },
        body: huge,
        chunked,
      });
      expect(answer.status).toBe(413);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(json(answer)).toEqual({ error: 'request_too_large', error_description: expect.any(String) });
    },
  );

  test("oidc-provider's other body-reading endpoints: pushed authorization requests, userinfo", async () => {
    for (const path of ['/request', '/me']) {
      const answer = await request('POST', path, {
        headers: { ...form, ...basicAuth(service.client_id, service.client_secret) },
        body: huge,
      });
      expect([path, answer.status]).toEqual([path, 413]);
      expect(json(answer).error).toBe('request_too_large');
    }
  });

  test("oidc-provider's pages get the error page with 413 (the logout confirmation form)", async () => {
    for (const chunked of [false, true]) {
      const answer = await request('POST', '/session/end/confirm', {
        headers: { ...form, accept: 'text/html' },
        body: `xsrf=${'x'.repeat(HUGE)}`,
        chunked,
      });
      expect(answer.status).toBe(413);
      expect(answer.headers['content-type']).toMatch(/^text\/html/);
      expect(answer.body).toContain('Something went wrong');
      expect(answer.body).toContain('request_too_large');
    }
  });

  test('the admin API, with Content-Length or chunked', async () => {
    for (const chunked of [false, true]) {
      const answer = await request('POST', '/admin/clients', {
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ name: 'x'.repeat(HUGE) }),
        chunked,
      });
      expect(answer.status).toBe(413);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(json(answer).error).toBe('request_too_large');
    }
  });

  test('the login form and the account pages answer with the error page', async () => {
    const { clients } = running.server.services;
    const app = await clients.create(
      { name: 'App', grant_types: ['authorization_code'], redirect_uris: [REDIRECT], public: true },
      { type: 'admin' },
    );
    const config = await client.discovery(new URL(running.url), app.client_id, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    const { url } = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
    const agent = new UserAgent();
    const login = await agent.follow(url, REDIRECT);
    const uid = /\/interaction\/([^/"]+)\/login/.exec(login.body)![1]!;
    const pages = [`/interaction/${uid}/login`];
    const huge = { csrf: csrfFrom(login.body), email: 'x'.repeat(HUGE), password: 'y' };
    const tooLarge = await agent.request(`${running.url}${pages[0]}`, { form: huge });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get('content-type')).toMatch(/^text\/html/);
    expect(tooLarge.body).toContain('request_too_large');

    const signedIn = await signIn(agent, (await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' })).url, {
      email: EMAIL,
      password: PASSWORD,
      redirectUri: REDIRECT,
    });
    expect(signedIn.location).toMatch(/code=/);
    for (const path of ['/account/keys', `/account/apps/${app.client_id}/revoke`]) {
      const answer = await agent.request(`${running.url}${path}`, { form: huge });
      expect([path, answer.status]).toEqual([path, 413]);
      expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
      expect(answer.body).toContain('request_too_large');
    }
  });
});

describe('unknown paths', () => {
  test.each(['/admin/nope', '/ADMIN/nope', '/admin', '/token/nope', '/token/introspection/x', '/.well-known/nope', '/jwks/nope', '/me/x'])(
    'GET %s under an API prefix is a JSON 404',
    async (path) => {
      const answer = await request('GET', path, { headers: { accept: 'text/html' } });
      expect(answer.status).toBe(404);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(json(answer)).toEqual({ error: 'not_found', error_description: expect.any(String) });
    },
  );

  test('a POST to an unknown API path is a JSON 404 too', async () => {
    const answer = await request('POST', '/admin/nope', { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(answer.status).toBe(404);
    expect(json(answer).error).toBe('not_found');
  });

  test.each(['/nope', '/account/nope', '/interaction/x/y/z', '/Account/Nope/'])('GET %s is the HTML error page with 404', async (path) => {
    const answer = await request('GET', path);
    expect(answer.status).toBe(404);
    expect(answer.headers['content-type']).toMatch(/^text\/html/);
    expect(answer.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(answer.body).toContain('Something went wrong');
    expect(answer.body).toContain('not_found');
  });

  test('a client that asks for JSON gets JSON at a page path', async () => {
    const answer = await request('GET', '/nope', { headers: { accept: 'application/json' } });
    expect(answer.status).toBe(404);
    expect(json(answer).error).toBe('not_found');
  });

  test('HEAD of an unknown path is 404 with no body', async () => {
    const answer = await request('HEAD', '/nope');
    expect(answer.status).toBe(404);
    expect(answer.body).toBe('');
  });
});

describe('discovery', () => {
  test.each(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/.WELL-KNOWN/openid-configuration/'])(
    '%s may be cached publicly, as long as the JWKS',
    async (path) => {
      const answer = await request('GET', path);
      expect(answer.status).toBe(200);
      expect(answer.headers['cache-control']).toBe(`public, max-age=${running.config.jwksMaxAgeSeconds}`);
      expect(json(answer).issuer).toBe(running.url);
    },
  );

  test('a method other than GET or HEAD is 405 with Allow', async () => {
    const answer = await request('POST', '/.well-known/openid-configuration', { headers: form, body: 'a=b' });
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET, HEAD');
    expect(answer.headers['cache-control']).toBeUndefined();
    expect(json(answer).error).toBe('invalid_request');
  });
});
