// The same code or refresh token presented many times at once is honoured exactly once; and two
// servers on one database behave as one for tokens: issued by one, refreshed, introspected and
// revoked through the other.
import * as client from 'openid-client';
import { basicAuth, csrfFrom, formAction, signIn, UserAgent, pkceAuthorization } from '../support/browser.ts';
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8127/callback';
let first: RunningServer;
let second: RunningServer;
let app: { client_id: string; client_secret: string };

beforeAll(async () => {
  first = await startServer();
  second = await startServer({ DATABASE_URL: first.testDatabase.url, ISSUER: first.url });
  await cli(['user', 'create', '--email', 'c@example.com', '--password-stdin', '--json'], first.env, 'concurrent passphrase');
  app = (
    await cli(
      [
        'client',
        'create',
        '--name',
        'C',
        '--grant',
        'authorization_code',
        '--grant',
        'refresh_token',
        '--redirect-uri',
        REDIRECT,
        '--json',
      ],
      first.env,
    )
  ).json();
});
afterAll(async () => {
  await second.server.close();
  await second.db.close();
  await second.testDatabase.drop();
  await first.stop();
});

async function codeAndVerifier(server: RunningServer) {
  const config = await client.discovery(new URL(server.config.issuer), app.client_id, app.client_secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  const { url, verifier } = await pkceAuthorization(config, {
    redirect_uri: REDIRECT,
    scope: 'openid offline_access',
    prompt: 'consent',
  });
  const step = await signIn(new UserAgent(), url.toString().replace(server.config.issuer, server.url), {
    email: 'c@example.com',
    password: 'concurrent passphrase',
    redirectUri: REDIRECT,
  });
  return { code: new URL(step.location!).searchParams.get('code')!, verifier };
}

const token = (server: RunningServer, body: Record<string, string>) =>
  fetch(`${server.url}/token`, { method: 'POST', headers: basicAuth(app.client_id, app.client_secret), body: new URLSearchParams(body) });

test('one code presented by 10 requests at once (across two servers) gives tokens exactly once', async () => {
  const { code, verifier } = await codeAndVerifier(first);
  const responses = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      token(i % 2 ? second : first, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT }),
    ),
  );
  expect(responses.filter((response) => response.status === 200)).toHaveLength(1);
  expect(responses.filter((response) => response.status === 400)).toHaveLength(9);
});

test('one refresh token presented by 10 requests at once is honoured exactly once', async () => {
  const { code, verifier } = await codeAndVerifier(first);
  const tokens = (await (
    await token(first, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT })
  ).json()) as { refresh_token: string };
  const responses = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      token(i % 2 ? second : first, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    ),
  );
  expect(responses.filter((response) => response.status === 200)).toHaveLength(1);
});

test('a token issued by one server is refreshed, introspected and revoked through the other', async () => {
  const { code, verifier } = await codeAndVerifier(first);
  const issued = (await (
    await token(first, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT })
  ).json()) as { refresh_token: string; access_token: string };
  const refreshed = await token(second, { grant_type: 'refresh_token', refresh_token: issued.refresh_token });
  expect(refreshed.status).toBe(200);
  const { access_token, refresh_token } = (await refreshed.json()) as { access_token: string; refresh_token: string };
  const introspect = async (server: RunningServer, value: string) =>
    (await (
      await fetch(`${server.url}/token/introspection`, {
        method: 'POST',
        headers: basicAuth(app.client_id, app.client_secret),
        body: new URLSearchParams({ token: value }),
      })
    ).json()) as { active: boolean };
  expect(await introspect(first, access_token)).toMatchObject({ active: true });
  const revoked = await fetch(`${first.url}/token/revocation`, {
    method: 'POST',
    headers: basicAuth(app.client_id, app.client_secret),
    body: new URLSearchParams({ token: refresh_token }),
  });
  expect(revoked.status).toBe(200);
  expect(await introspect(second, refresh_token)).toEqual({ active: false });
  expect(await introspect(second, access_token)).toEqual({ active: false });
});

test('a login moves between servers: started on one, pages and posts on the other, code exchanged on either', async () => {
  const config = await client.discovery(new URL(first.config.issuer), app.client_id, app.client_secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  const { url, verifier } = await pkceAuthorization(config, {
    redirect_uri: REDIRECT,
    scope: 'openid',
  });
  const servers = [first, second];
  let turn = 0;
  /** Sends each step to the next server in turn, as a load balancer without affinity would. */
  const elsewhere = (target: string) => {
    const next = new URL(target);
    const server = servers[turn++ % 2]!;
    next.host = new URL(server.url).host;
    return next.toString();
  };
  const agent = new UserAgent();
  let step = await agent.request(elsewhere(url.toString()));
  for (let hops = 0; hops < 12 && !step.location?.startsWith(REDIRECT); hops += 1) {
    if (step.location) {
      step = await agent.request(elsewhere(step.location));
    } else if (step.body.includes('name="password"')) {
      step = await agent.request(elsewhere(formAction(step.body, '/login', step.url)), {
        form: { csrf: csrfFrom(step.body), email: 'c@example.com', password: 'concurrent passphrase' },
      });
    } else if (step.body.includes('/confirm"')) {
      step = await agent.request(elsewhere(formAction(step.body, '/confirm', step.url)), { form: { csrf: csrfFrom(step.body) } });
    } else {
      throw new Error(`stuck at ${step.status} ${step.url}`);
    }
  }
  expect(turn).toBeGreaterThanOrEqual(4);
  const code = new URL(step.location!).searchParams.get('code')!;
  const exchanged = await token(second, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT });
  expect(exchanged.status).toBe(200);
});
