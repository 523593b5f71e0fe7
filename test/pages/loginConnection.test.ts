// A client whose only way in is one connection (login_connection), and the app's connection=NAME,
// over real HTTP: every sign-in to such a client goes straight to the upstream's authorization
// endpoint (PKCE S256, state, the callback URL), its password and passkey forms are refused, and a
// connection it names that is gone ends on an error page; connection=NAME follows a name once and
// ignores an unknown one. The connections are OAuth 2.0 ones, so nothing upstream is fetched: what
// is checked is where the browser is sent.
import * as client from 'openid-client';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { csrfToken } from '../../src/pages/csrf.ts';
import { pkceAuthorization, UserAgent } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'https://app.example.com/callback';
let running: RunningServer;
let staffApp: { client_id: string };
let openApp: { client_id: string };

const services = () => running.server.services;

async function connection(name: string, display: string) {
  await services().federation.connections.create(
    {
      name,
      type: 'oauth2',
      display_name: display,
      authorization_url: `https://${name}.example.com/authorize`,
      token_url: `https://${name}.example.com/token`,
      userinfo_url: `https://${name}.example.com/me`,
      client_id: `portcullis-at-${name}`,
      client_secret: 'an upstream secret',
    },
    CLI_ACTOR,
  );
}

/** The first answer of an authorization request of `clientId`, followed until it leaves this server. */
async function begin(clientId: string, parameters: Record<string, string> = {}, agent = new UserAgent()) {
  const config = new client.Configuration(
    { issuer: running.url, authorization_endpoint: `${running.url}/auth` },
    clientId,
    undefined,
    client.None(),
  );
  client.allowInsecureRequests(config);
  const { url } = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid', ...parameters });
  return { agent, step: await agent.follow(url, 'https://') };
}

beforeAll(async () => {
  running = await startServer();
  await connection('staff-sso', 'Staff SSO');
  await connection('other', 'Other ID');
  staffApp = await services().clients.create(
    { name: 'Staff tools', public: true, grant_types: ['authorization_code'], redirect_uris: [REDIRECT], login_connection: 'staff-sso' },
    CLI_ACTOR,
  );
  openApp = await services().clients.create(
    { name: 'Open app', public: true, grant_types: ['authorization_code'], redirect_uris: [REDIRECT] },
    CLI_ACTOR,
  );
}, 60_000);
afterAll(() => running.stop());

describe('login_connection: the one way in', () => {
  test('the sign-in goes straight to that upstream, with PKCE S256, a state and our callback', async () => {
    const { step } = await begin(staffApp.client_id);
    expect(step.status).toBe(303);
    const upstream = new URL(step.location!);
    expect(upstream.origin + upstream.pathname).toBe('https://staff-sso.example.com/authorize');
    expect(upstream.searchParams.get('client_id')).toBe('portcullis-at-staff-sso');
    expect(upstream.searchParams.get('redirect_uri')).toBe(`${running.url}/federation/staff-sso/callback`);
    expect(upstream.searchParams.get('code_challenge_method')).toBe('S256');
    expect(upstream.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(upstream.searchParams.get('state')!.length).toBeGreaterThan(40);
    // OAuth 2.0 without OpenID Connect: no nonce.
    expect(upstream.searchParams.get('nonce')).toBeNull();
  });

  test('its password form and its passkey form are refused; another connection is refused', async () => {
    const agent = new UserAgent();
    const { step } = await begin(staffApp.client_id, {}, agent);
    const uid = /state=([\w-]+)\./.exec(decodeURIComponent(step.location!))![1]!;
    // The login page itself is never shown: its GET goes upstream again.
    const page = await agent.request(`${running.url}/interaction/${uid}`);
    expect(page.status).toBe(303);
    expect(page.location).toContain('https://staff-sso.example.com/authorize');
    // The form's token as this sign-in's own page would carry it (the client's sign-ins never show one).
    const csrf = csrfToken(running.config.cookieKeys[0]!, 'interaction', uid);
    const password = await agent.request(`${running.url}/interaction/${uid}/login`, {
      form: { csrf, email: 'a@example.com', password: 'x' },
    });
    expect(password.status).toBe(400);
    const passkey = await agent.request(`${running.url}/interaction/${uid}/passkey`, { form: { csrf, response: '{}' } });
    expect(passkey.status).toBe(400);
    const other = await agent.request(`${running.url}/interaction/${uid}/federation/other`, { form: { csrf } });
    expect(other.status).toBe(404);
    // The right one is still allowed from the same sign-in.
    const own = await agent.request(`${running.url}/interaction/${uid}/federation/staff-sso`, { form: { csrf } });
    expect(own.status).toBe(303);
    expect(await running.db.prisma.auditEvent.count({ where: { type: 'login', subject: 'a@example.com' } })).toBe(0);
  });

  test('a connection it names that is gone ends on an error page, never a 500', async () => {
    await services().clients.update(staffApp.client_id, { login_connection: 'no-such-connection' }, CLI_ACTOR);
    try {
      const { step } = await begin(staffApp.client_id);
      expect(step.status).toBe(404);
      expect(step.body).toContain('This way of signing in is not available.');
    } finally {
      await services().clients.update(staffApp.client_id, { login_connection: 'staff-sso' }, CLI_ACTOR);
    }
  });
});

describe('connection=NAME', () => {
  test('goes straight to that upstream once; after coming back, the login page offers every way in', async () => {
    const agent = new UserAgent();
    const { step } = await begin(openApp.client_id, { connection: 'other' }, agent);
    expect(step.status).toBe(303);
    expect(step.location).toContain('https://other.example.com/authorize');
    const uid = /state=([\w-]+)\./.exec(decodeURIComponent(step.location!))![1]!;
    const page = await agent.request(`${running.url}/interaction/${uid}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Continue with Other ID');
    expect(page.body).toContain('Continue with Staff SSO');
    expect(page.body).toContain('name="password"');
  });

  test('an unknown name shows the login page', async () => {
    const { step } = await begin(openApp.client_id, { connection: 'nobody' });
    expect(step.status).toBe(200);
    expect(step.body).toContain('name="password"');
  });

  test('the buttons are in the operator\u2019s order (position, then display name), and a disabled connection has none', async () => {
    await services().federation.connections.update('other', { position: 0 }, CLI_ACTOR);
    await services().federation.connections.update('staff-sso', { position: 5 }, CLI_ACTOR);
    const first = (await begin(openApp.client_id)).step.body;
    expect(first.indexOf('Continue with Other ID')).toBeLessThan(first.indexOf('Continue with Staff SSO'));
    await services().federation.connections.update('other', { position: 9 }, CLI_ACTOR);
    const second = (await begin(openApp.client_id)).step.body;
    expect(second.indexOf('Continue with Staff SSO')).toBeLessThan(second.indexOf('Continue with Other ID'));
    await services().federation.connections.update('other', { enabled: false }, CLI_ACTOR);
    const third = (await begin(openApp.client_id)).step.body;
    expect(third).not.toContain('Continue with Other ID');
    await services().federation.connections.update('other', { enabled: true }, CLI_ACTOR);
  });
});
