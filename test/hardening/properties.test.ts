// Property-based tests (fast-check) over the parameters of the token, authorization,
// introspection and revocation endpoints: whatever arrives, the answer is a proper 4xx (or a
// success) in the standard shape, never a 500, never a stack trace. Bounded: a fixed number of
// runs per property, all against 127.0.0.1.
import fc from 'fast-check';
import { basicAuth } from '../support/browser.ts';
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';

let running: RunningServer;
let service: { client_id: string; client_secret: string };
const RUNS = 60;

beforeAll(async () => {
  running = await startServer({ TOKEN_RATE_LIMIT: '100000/1m' });
  await cli(['resource', 'create', '--audience', 'https://p.example.com', '--scope', 'read write', '--json'], running.env);
  service = (
    await cli(['client', 'create', '--name', 'p', '--grant', 'client_credentials', '--scope', 'read', '--json'], running.env)
  ).json();
});
afterAll(() => running.stop());

/** Hostile values: unicode, control characters, injection strings, very long strings, JWT-like junk. */
const hostile = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    "' OR 1=1 --",
    '{{7*7}}',
    '<%= 7*7 %>',
    '${7*7}',
    '\u0000',
    '../../etc/passwd',
    'eyJhbGciOiJub25lIn0.e30.',
    'a'.repeat(5000),
    'https://p.example.com',
    'read',
    'client_credentials',
  ),
);
const parameters = (names: string[]) => fc.array(fc.tuple(fc.constantFrom(...names), hostile), { maxLength: 8 });

function form(pairs: [string, string][]): URLSearchParams {
  const body = new URLSearchParams();
  for (const [name, value] of pairs) body.append(name, value);
  return body;
}

async function expectStandardAnswer(response: Response): Promise<void> {
  const text = await response.text();
  expect(response.status).toBeLessThan(500);
  expect(text).not.toMatch(/at .*\.(js|ts):\d+/); // no stack trace
  if (response.status >= 400 && response.headers.get('content-type')?.includes('json')) {
    expect(JSON.parse(text)).toHaveProperty('error');
  }
}

test('token endpoint', async () => {
  await fc.assert(
    fc.asyncProperty(
      parameters([
        'grant_type',
        'scope',
        'resource',
        'code',
        'code_verifier',
        'redirect_uri',
        'refresh_token',
        'client_id',
        'client_assertion',
        'client_assertion_type',
        'subject_token',
        'subject_token_type',
      ]),
      fc.boolean(),
      async (pairs, authenticate) => {
        const response = await fetch(`${running.url}/token`, {
          method: 'POST',
          headers: authenticate ? basicAuth(service.client_id, service.client_secret) : {},
          body: form(pairs),
        });
        await expectStandardAnswer(response);
      },
    ),
    { numRuns: RUNS },
  );
});

test('authorization endpoint', async () => {
  await fc.assert(
    fc.asyncProperty(
      parameters([
        'client_id',
        'response_type',
        'redirect_uri',
        'scope',
        'state',
        'code_challenge',
        'code_challenge_method',
        'resource',
        'prompt',
        'request',
      ]),
      async (pairs) => {
        const response = await fetch(`${running.url}/auth?${form(pairs).toString()}`, { redirect: 'manual' });
        await expectStandardAnswer(response);
      },
    ),
    { numRuns: RUNS },
  );
});

test('introspection and revocation endpoints', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('/token/introspection', '/token/revocation'),
      parameters(['token', 'token_type_hint', 'client_id']),
      fc.boolean(),
      async (path, pairs, authenticate) => {
        const response = await fetch(`${running.url}${path}`, {
          method: 'POST',
          headers: authenticate ? basicAuth(service.client_id, service.client_secret) : {},
          body: form(pairs),
        });
        await expectStandardAnswer(response);
      },
    ),
    { numRuns: RUNS },
  );
});

test('wrong content types, invalid JSON, oversized bodies and repeated parameters are 4xx', async () => {
  const token = (init: RequestInit) => fetch(`${running.url}/token`, { method: 'POST', ...init });
  for (const response of [
    await token({ headers: { 'content-type': 'application/json' }, body: '{"grant_type":' }),
    await token({ headers: { 'content-type': 'text/plain' }, body: 'grant_type=client_credentials' }),
    await token({
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&scope=${'a'.repeat(2_000_000)}`,
    }),
    await token({
      headers: { ...basicAuth(service.client_id, service.client_secret) },
      body: 'grant_type=client_credentials&grant_type=client_credentials',
    }),
    await fetch(`${running.url}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '%%%',
    }),
  ]) {
    expect(response.status).toBeGreaterThanOrEqual(400);
    await expectStandardAnswer(response);
  }
});
