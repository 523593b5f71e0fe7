// RFC 9207: every authorization response names its issuer in `iss`, success and error alike, in
// every response mode, so a client talking to several servers can tell which one answered (the
// mix-up attack, RFC 9700 section 4.4). oauth4webapi's validateAuthResponse compares `iss` with
// the issuer it discovered and refuses a response without it when discovery says it is sent.
import * as oauth from 'oauth4webapi';
import { cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { csrfFrom, formAction, signIn, UserAgent, type Step } from '../support/browser.ts';

const REDIRECT = 'http://127.0.0.1:8131/callback';
const PERSON = { email: 'iss@example.com', password: 'a long passphrase' };
const insecure = { [oauth.allowInsecureRequests]: true } as const;

let running: RunningServer;
let as: oauth.AuthorizationServer;
let web: { client_id: string; client_secret: string };

beforeAll(async () => {
  running = await startServer();
  const issuer = new URL(running.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  const run = (args: string[], stdin = '') => cliJson<Record<string, string>>(args, running.env, stdin);
  await run(['user', 'create', '--email', PERSON.email, '--password-stdin'], PERSON.password);
  web = (await run(['client', 'create', '--name', 'web', '--grant', 'authorization_code', '--redirect-uri', REDIRECT])) as typeof web;
});
afterAll(() => running.stop());

async function authorizationUrl(parameters: Record<string, string> = {}) {
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    client_id: web.client_id,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid',
    state: 'the-state',
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
    code_challenge_method: 'S256',
    ...parameters,
  }).toString();
  return url.href;
}

/** The parameters of the redirect to the client. */
function callbackOf(step: Step): URL {
  if (!step.location?.startsWith(REDIRECT)) throw new Error(`no redirect to the client: ${step.status} ${step.url}`);
  return new URL(step.location);
}

test('discovery says iss is sent (RFC 9207 section 3)', () => {
  expect(as.authorization_response_iss_parameter_supported).toBe(true);
});

test('a successful response carries iss, and oauth4webapi refuses one naming another issuer', async () => {
  const callback = callbackOf(await signIn(new UserAgent(), await authorizationUrl(), { ...PERSON, redirectUri: REDIRECT }));
  expect(callback.searchParams.get('iss')).toBe(as.issuer);
  const parameters = oauth.validateAuthResponse(as, web, callback, 'the-state');
  expect(parameters.get('code')).toBeTruthy();

  // The check has teeth: the same response claimed by another issuer, or with iss removed, is refused.
  const forged = new URL(callback);
  forged.searchParams.set('iss', 'https://attacker.example.com');
  expect(() => oauth.validateAuthResponse(as, web, forged, 'the-state')).toThrow(/iss/);
  forged.searchParams.delete('iss');
  expect(() => oauth.validateAuthResponse(as, web, forged, 'the-state')).toThrow(/iss/);
});

test("an error response carries iss: the consent page's Deny (access_denied)", async () => {
  const agent = new UserAgent();
  const consent = await signIn(agent, await authorizationUrl({ prompt: 'consent' }), { ...PERSON, redirectUri: REDIRECT, consent: false });
  expect(consent.body).toContain('/abort"');
  const denied = await agent.follow(formAction(consent.body, '/abort', consent.url), REDIRECT, { form: { csrf: csrfFrom(consent.body) } });
  const callback = callbackOf(denied);
  expect(callback.searchParams.get('iss')).toBe(as.issuer);
  expect(callback.searchParams.get('error')).toBe('access_denied');
  // validateAuthResponse checks iss, then reports the error the server sent.
  expect(() => oauth.validateAuthResponse(as, web, callback, 'the-state')).toThrow(
    expect.objectContaining({ code: oauth.AUTHORIZATION_RESPONSE_ERROR, error: 'access_denied' }),
  );
});

test('an error response carries iss: prompt=none without a session (login_required)', async () => {
  const callback = callbackOf(await new UserAgent().follow(await authorizationUrl({ prompt: 'none' }), REDIRECT));
  expect(callback.searchParams.get('iss')).toBe(as.issuer);
  expect(() => oauth.validateAuthResponse(as, web, callback, 'the-state')).toThrow(
    expect.objectContaining({ code: oauth.AUTHORIZATION_RESPONSE_ERROR, error: 'login_required' }),
  );
});

test('response_mode=form_post carries iss in the form, success and error', async () => {
  /** The hidden fields of oidc-provider's auto-submitting form (200, or the error's status), as the browser would post them. */
  const posted = (step: Step) => {
    expect(step.body).toContain(`action="${REDIRECT}"`);
    const fields = [...step.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)];
    return new URLSearchParams(fields.map(([, name, value]): [string, string] => [name!, value!.replaceAll('&amp;', '&')]));
  };
  const success = posted(
    await signIn(new UserAgent(), await authorizationUrl({ response_mode: 'form_post' }), { ...PERSON, redirectUri: REDIRECT }),
  );
  expect(success.get('iss')).toBe(as.issuer);
  expect(oauth.validateAuthResponse(as, web, success, 'the-state').get('code')).toBeTruthy();

  const failure = posted(await new UserAgent().follow(await authorizationUrl({ response_mode: 'form_post', prompt: 'none' })));
  expect(failure.get('iss')).toBe(as.issuer);
  expect(() => oauth.validateAuthResponse(as, web, failure, 'the-state')).toThrow(
    expect.objectContaining({ code: oauth.AUTHORIZATION_RESPONSE_ERROR, error: 'login_required' }),
  );
});
