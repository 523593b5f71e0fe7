// The upstream rotates its signing keys: the next ID token names a key this server's cached copy
// of the upstream's JWKS has never seen, and the sign-in still succeeds, because openid-client
// fetches the JWKS again for an unknown kid (at most once a minute, which is why this test waits
// a minute between the two sign-ins). The upstream is a second Portcullis process; its keys are
// rotated twice with `keys rotate --force`, so its new current key was made after this server last
// read its JWKS (one rotation would only promote the "next" key, published already).
import * as client from 'openid-client';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { cliJson } from '../support/cli.ts';
import { csrfFrom, formAction, pkceAuthorization, UserAgent } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { signInUpstream, startUpstream, type Upstream } from '../support/upstream.ts';

const PASSWORD = 'the upstream passphrase';
const REDIRECT = 'https://app.example.com/callback';
let upstream: Upstream;
let running: RunningServer;
let app: { client_id: string; client_secret?: string };

beforeAll(async () => {
  // The upstream looks for rotated keys every second, so it signs with the new one at once.
  [upstream, running] = await Promise.all([startUpstream({ KEYS_POLL_INTERVAL_SECONDS: '1' }), startServer()]);
  await upstream.createUser('rotation@example.com', PASSWORD, 'Rotation');
  const registered = await upstream.createClient(`${running.url}/federation/up/callback`);
  await running.server.services.federation.connections.create(
    {
      name: 'up',
      type: 'oidc',
      display_name: 'Upstream',
      issuer: upstream.url,
      client_id: registered.clientId,
      client_secret: registered.secret,
      trust_email_verified: true,
    },
    CLI_ACTOR,
  );
  app = await running.server.services.clients.create(
    { name: 'App', grant_types: ['authorization_code'], redirect_uris: [REDIRECT] },
    CLI_ACTOR,
  );
}, 90_000);
afterAll(async () => {
  await running?.stop();
  await upstream?.stop();
});

/** One sign-in through the upstream to the app; the local account's id (the ID token's sub). */
async function signIn(): Promise<string> {
  const agent = new UserAgent();
  const config = await client.discovery(
    new URL(running.url),
    app.client_id,
    app.client_secret,
    client.ClientSecretBasic(app.client_secret!),
    {
      execute: [client.allowInsecureRequests],
    },
  );
  const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
  const page = await agent.follow(request.url, REDIRECT);
  const toUpstream = await agent.request(formAction(page.body, '/federation/up', page.url), { form: { csrf: csrfFrom(page.body) } });
  const back = await signInUpstream(agent, upstream, toUpstream, { email: 'rotation@example.com', password: PASSWORD });
  let end = await agent.follow(back.location!, REDIRECT);
  if (!end.location && end.body.includes('/confirm"'))
    end = await agent.follow(formAction(end.body, '/confirm', end.url), REDIRECT, { form: { csrf: csrfFrom(end.body) } });
  if (!end.location?.startsWith(REDIRECT)) throw new Error(`the sign-in stopped at ${end.status} ${end.url}: ${end.body.slice(0, 300)}`);
  const tokens = await client.authorizationCodeGrant(config, new URL(end.location), { pkceCodeVerifier: request.verifier });
  return tokens.claims()!.sub;
}

/** The kids the upstream publishes now. */
async function upstreamKids(): Promise<string[]> {
  const jwks = (await (await fetch(`${upstream.url}/jwks`)).json()) as { keys: { kid: string }[] };
  return jwks.keys.map((key) => key.kid);
}

test('an ID token signed with a key made after this server read the JWKS: refused within the minute, verified after the refetch', async () => {
  const first = await signIn();
  const readAt = Date.now();
  const known = await upstreamKids();
  await cliJson(['keys', 'rotate', '--force'], upstream.env);
  const { current } = await cliJson<{ current: string }>(['keys', 'rotate', '--force'], upstream.env);
  // The key that signs now was not in the JWKS this server fetched at the first sign-in.
  expect(known).not.toContain(current);
  // The upstream polls every second; then it publishes the new key and its ID tokens name it.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  expect(await upstreamKids()).toContain(current);
  // Within the minute the cached JWKS is trusted as it is: the signature cannot be checked, the
  // sign-in ends on the 502 page (so the signature is checked at all).
  await expect(signIn()).rejects.toThrow(/stopped at 502/);
  // A minute after the first fetch, the unknown kid makes openid-client fetch the JWKS again.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, 61_000 - (Date.now() - readAt))));
  expect(await signIn()).toBe(first);
}, 150_000);
