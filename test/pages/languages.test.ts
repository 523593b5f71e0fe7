// The pages in the person's language over real HTTP: discovery says which languages there are
// (ui_locales_supported); an authorization request's ui_locales carries through the sign-in
// and the consent page; without it the browser's Accept-Language decides, on the pages of
// oidc-provider's flows (errors, device) as on Portcullis's own (home, not found, CSRF).
import { csrfFrom, formAction, pkceAuthorization, UserAgent } from '../support/browser.ts';
import { cli, cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import * as client from 'openid-client';

const REDIRECT = 'http://127.0.0.1:8126/callback';
const EMAIL = 'lena@example.com';
const PASSWORD = 'a long enough passphrase';
let running: RunningServer;
let app: { client_id: string };

beforeAll(async () => {
  running = await startServer();
  await cli(['user', 'create', '--email', EMAIL, '--name', 'Lena', '--password-stdin', '--json'], running.env, PASSWORD);
  app = await cliJson<{ client_id: string }>(
    ['client', 'create', '--name', 'Notizen', '--public', '--grant', 'authorization_code', '--redirect-uri', REDIRECT],
    running.env,
  );
}, 60_000);
afterAll(() => running.stop());

const langOf = (html: string) => /<html lang="([^"]+)">/.exec(html)?.[1];

async function authorizationUrl(parameters: Record<string, string>): Promise<string> {
  const config = await client.discovery(new URL(running.url), app.client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  return (await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid email', ...parameters })).url;
}

test('discovery lists the shipped languages as ui_locales_supported', async () => {
  const metadata = (await (await fetch(`${running.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  expect(metadata.ui_locales_supported).toEqual(['en', 'de']);
  expect(metadata.claim_types_supported).toEqual(['normal']);
});

test("ui_locales=de carries through sign-in and consent, over the browser's English", async () => {
  const agent = new UserAgent();
  const english = { 'accept-language': 'en-US,en;q=0.9' };
  let step = await agent.follow(await authorizationUrl({ ui_locales: 'fr de' }));
  expect(step.status).toBe(200);
  expect(langOf(step.body)).toBe('de');
  step = await agent.request(formAction(step.body, '/login', step.url), {
    form: { csrf: csrfFrom(step.body), email: EMAIL, password: PASSWORD },
    headers: english,
  });
  step = await agent.follow(step.location!, REDIRECT);
  expect(step.status).toBe(200);
  expect(langOf(step.body)).toBe('de');
  expect(step.body).toContain('Notizen Zugriff erlauben?');
  expect(step.body).toContain('Angemeldet als <strong>lena@example.com</strong>');
  expect(step.body).toContain('>Erlauben</button>');
  expect(step.body).toContain('>Ablehnen</button>');
  expect(step.body).toContain('Kontoseite');
  expect(step.body).not.toContain('Allow');
});

test('without ui_locales, the sign-in page follows Accept-Language, q-values and all', async () => {
  const pageFor = async (acceptLanguage: string) => {
    const agent = new UserAgent();
    const headers = { 'accept-language': acceptLanguage };
    let step = await agent.request(await authorizationUrl({}), { headers });
    for (let hops = 0; step.location && hops < 5; hops += 1) step = await agent.request(step.location, { headers });
    expect(step.status).toBe(200);
    return step.body;
  };
  expect(langOf(await pageFor('fr;q=1, de;q=0.8, en;q=0.5'))).toBe('de');
  expect(langOf(await pageFor('fr;q=1, de;q=0.4, en;q=0.5'))).toBe('en');
  expect(langOf(await pageFor('ja'))).toBe('en');
});

test.each([
  ['the home page', '/', 200, 'Autorisierungsserver'],
  ['an unknown address', '/nirgendwo', 404, 'Unter dieser Adresse gibt es keine Seite.'],
  ['an unknown sign-in', '/interaction/no-such-sign-in', 400, 'Diese Anmeldeseite ist abgelaufen oder wurde bereits verwendet.'],
  ['the device form', '/device', 200, 'Geben Sie den Code ein, den Ihr Gerät anzeigt'],
])('%s is in German for a browser that asks for it', async (_name, path, status, words) => {
  for (const [header, lang] of [
    ['de-AT, en;q=0.5', 'de'],
    ['en, de;q=0.9', 'en'],
  ] as const) {
    const response = await fetch(`${running.url}${path}`, { headers: { accept: 'text/html', 'accept-language': header } });
    const body = await response.text();
    expect(response.status).toBe(status);
    expect(langOf(body)).toBe(lang);
    if (lang === 'de') expect(body).toContain(words);
    else expect(body).not.toContain(words);
  }
});

test("oidc-provider's error page: the catalogue's words for the code, its own description under them", async () => {
  const response = await fetch(
    `${running.url}/auth?client_id=${app.client_id}&response_type=code&redirect_uri=https://evil.example/cb&scope=openid`,
    {
      headers: { accept: 'text/html', 'accept-language': 'de' },
    },
  );
  const body = await response.text();
  expect(response.status).toBe(400);
  expect(langOf(body)).toBe('de');
  expect(body).toContain('Etwas ist schiefgelaufen');
  expect(body).toContain('Die Anwendung wollte Sie an eine Adresse schicken, die sie nicht registriert hat.');
  expect(body).toContain('redirect_uri');
  expect(body).toContain('<code>invalid_redirect_uri</code>');
});

test('a forged form is refused with the CSRF page in the language of the sign-in', async () => {
  const agent = new UserAgent();
  const login = await agent.follow(await authorizationUrl({ ui_locales: 'de' }));
  const refused = await agent.postLogin(formAction(login.body, '/login', login.url), {
    form: { csrf: 'forged', email: EMAIL, password: PASSWORD },
  });
  expect(refused.status).toBe(403);
  expect(langOf(refused.body)).toBe('de');
  expect(refused.body).toContain('Dieses Formular ist abgelaufen oder stammt nicht von dieser Website.');
  expect(refused.body).toContain('invalid_csrf_token');
});
