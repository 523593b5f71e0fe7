// The token endpoint's and introspection's limits (src/oidc/endpointLimits.ts): counted per
// authenticated client, so nobody else can spend a client's budget; failed authentications are
// counted per source address in a bucket of their own.
import { basicAuth } from '../support/browser.ts';
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';

type Credentials = { client_id: string; client_secret: string };

let running: RunningServer;
beforeAll(async () => {
  running = await startServer({
    TOKEN_RATE_LIMIT: '5/30s',
    CLIENT_AUTH_FAILURE_LIMIT: '8/30s',
    INTROSPECTION_RATE_LIMIT: '4/30s',
    TRUST_PROXY_HOPS: '1',
  });
});
afterAll(() => running.stop());

const makeClient = async (name: string) =>
  (await cli(['client', 'create', '--name', name, '--grant', 'client_credentials', '--json'], running.env)).json<Credentials>();

/** A token request from `ip` (a trusted X-Forwarded-For), with HTTP Basic as given. */
const tokenRequest = (authorization: string, ip: string) =>
  fetch(`${running.url}/token`, {
    method: 'POST',
    headers: { authorization, 'x-forwarded-for': ip },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

test("wrong secrets for a client's id never spend that client's budget", async () => {
  const victim = await makeClient('victim');
  // Ten wrong secrets from an attacker, under the victim's id.
  for (let i = 0; i < 10; i += 1) {
    const response = await tokenRequest(basic(victim.client_id, 'not-the-secret'), '198.51.100.10');
    expect([401, 429]).toContain(response.status);
  }
  // The victim, elsewhere, still has its whole budget of five.
  const statuses = [];
  for (let i = 0; i < 6; i += 1)
    statuses.push((await tokenRequest(basicAuth(victim.client_id, victim.client_secret).authorization, '203.0.113.1')).status);
  expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
});

test('a percent-encoded spelling of the id is the same client and the same budget', async () => {
  const svc = await makeClient('encoded');
  // RFC 6749 section 2.3.1: the Basic credentials are form-encoded; oidc-provider decodes them.
  const encoded = `%${svc.client_id.charCodeAt(0).toString(16).toUpperCase()}${svc.client_id.slice(1)}`;
  const statuses = [];
  for (let i = 0; i < 3; i += 1) statuses.push((await tokenRequest(basic(svc.client_id, svc.client_secret), '203.0.113.2')).status);
  for (let i = 0; i < 3; i += 1) statuses.push((await tokenRequest(basic(encoded, svc.client_secret), '203.0.113.2')).status);
  expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
});

test('failed authentications are limited per source address, apart from every client', async () => {
  const svc = await makeClient('guessed');
  const statuses = [];
  for (let i = 0; i < 10; i += 1) statuses.push((await tokenRequest(basic(svc.client_id, `guess-${i}`), '198.51.100.20')).status);
  expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 401, 401, 429, 429]);
  const limited = await tokenRequest(basic(svc.client_id, svc.client_secret), '198.51.100.20');
  expect(limited.status).toBe(429);
  expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(await limited.json()).toMatchObject({ error: 'rate_limited' });
  // The same address is refused at introspection too; the real client from its own address is not.
  const introspection = await fetch(`${running.url}/token/introspection`, {
    method: 'POST',
    headers: { ...basicAuth(svc.client_id, svc.client_secret), 'x-forwarded-for': '198.51.100.20' },
    body: new URLSearchParams({ token: 'x' }),
  });
  expect(introspection.status).toBe(429);
  expect((await tokenRequest(basicAuth(svc.client_id, svc.client_secret).authorization, '203.0.113.3')).status).toBe(200);
});

test("a public client's budget is kept per network: a flood from one network leaves the others theirs", async () => {
  const exchanger = (
    await cli(
      [
        'client',
        'create',
        '--name',
        'spa',
        '--public',
        '--grant',
        'urn:ietf:params:oauth:grant-type:token-exchange',
        '--scope',
        'x',
        '--json',
      ],
      running.env,
    )
  ).json<{ client_id: string }>();
  // Its id is all a public client authenticates with, and anyone may send it.
  const junk = (ip: string) =>
    fetch(`${running.url}/token`, {
      method: 'POST',
      headers: { 'x-forwarded-for': ip },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        client_id: exchanger.client_id,
        subject_token: 'not-a-key',
        subject_token_type: 'urn:portcullis:params:oauth:token-type:api_key',
      }),
    });
  const flood = [];
  for (let i = 0; i < 6; i += 1) flood.push((await junk('198.51.100.77')).status);
  expect(flood).toEqual([400, 400, 400, 400, 400, 429]);
  expect((await junk('198.51.100.78')).status).toBe(429); // the same /24
  expect((await junk('203.0.113.77')).status).toBe(400); // another network still gets answers
});

test('introspection is limited per calling client, without touching other callers', async () => {
  const [busy, quiet] = [await makeClient('busy-rs'), await makeClient('quiet-rs')];
  const introspect = (rs: Credentials) =>
    fetch(`${running.url}/token/introspection`, {
      method: 'POST',
      headers: { ...basicAuth(rs.client_id, rs.client_secret), 'x-forwarded-for': '203.0.113.4' },
      body: new URLSearchParams({ token: 'some-token' }),
    });
  const statuses = [];
  for (let i = 0; i < 5; i += 1) statuses.push((await introspect(busy)).status);
  expect(statuses).toEqual([200, 200, 200, 200, 429]);
  expect((await introspect(quiet)).status).toBe(200);
});
