// Passkeys in the sign-in, in headless Chromium with a virtual authenticator (the DevTools
// Protocol's WebAuthn domain): a person whom an app requires a second factor of adds a passkey
// in the sign-in, then signs in without a password with it, then uses it as the second factor
// after a password (refusals are test/oidc/passkeys.test.ts's, over HTTP). The server's
// issuer is http://localhost:PORT: WebAuthn refuses an IP address as the relying party id.
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import * as client from 'openid-client';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { pkceAuthorization } from '../support/browser.ts';
import { browserTest, launchChromium } from '../support/chromium.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8125/callback';
const PASSWORD = 'correct horse battery staple';

let running: RunningServer;
let browser: Browser;
let bank: { client_id: string; client_secret?: string };
let notes: { client_id: string; client_secret?: string };

beforeAll(async () => {
  const launched = await launchChromium();
  if (!launched) return;
  browser = launched;
  running = await startServer({}, { localhost: true });
  const clients = running.server.services.clients;
  bank = await clients.create(
    { name: 'Bank', grant_types: ['authorization_code'], redirect_uris: [REDIRECT], require_mfa: true },
    CLI_ACTOR,
  );
  notes = await clients.create({ name: 'Notes', grant_types: ['authorization_code'], redirect_uris: [REDIRECT] }, CLI_ACTOR);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await running?.stop();
});

async function authorizationUrl(target: { client_id: string; client_secret?: string }): Promise<string> {
  const config = await client.discovery(
    new URL(running.url),
    target.client_id,
    target.client_secret,
    client.ClientSecretBasic(target.client_secret!),
    {
      execute: [client.allowInsecureRequests],
    },
  );
  return (await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' })).url;
}

/** A browser with a virtual platform authenticator (resident keys, user verification) and the app's callback answered. */
async function withAuthenticator(
  problems: string[],
): Promise<{ context: BrowserContext; page: Page; cdp: CDPSession; authenticatorId: string }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`script error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
  });
  await page.route('http://127.0.0.1:8125/**', (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'app callback' }));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { context, page, cdp, authenticatorId };
}

async function consentIfAsked(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Allow' }).or(page.getByText('app callback')).waitFor();
  if (!page.url().startsWith(REDIRECT)) await page.getByRole('button', { name: 'Allow' }).click();
  await page.getByText('app callback').waitFor();
}

browserTest(
  'a passkey added in the sign-in signs in without a password, and is the second factor after one',
  async () => {
    const problems: string[] = [];
    const email = 'katherine@example.com';
    const { id } = await running.server.services.users.create({ email, password: PASSWORD }, CLI_ACTOR);
    const { context, page, cdp, authenticatorId } = await withAuthenticator(problems);

    // The bank requires a second factor and Katherine has none: she adds a passkey.
    await page.goto(await authorizationUrl(bank));
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Add a second step to your sign-in' }).waitFor();
    await page.locator('#passkey-name').fill('Work laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    await page.getByRole('button', { name: /I have saved them/ }).click();
    await consentIfAsked(page);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);
    expect((await running.server.services.factors.passkeys.list(id)).map((passkey) => passkey.name)).toEqual(['Work laptop']);

    // Signed out (a new browser session, the same authenticator): no password at all. The email
    // field offers the passkey in its autofill (conditional mediation), and the virtual
    // authenticator, which answers at once, picks it as a person would.
    await context.clearCookies();
    await page.goto(await authorizationUrl(notes));
    await consentIfAsked(page);
    const passwordless = await running.db.prisma.auditEvent.findFirst({
      where: { type: 'login', subject: id, outcome: 'success' },
      orderBy: { at: 'desc' },
    });
    expect(passwordless?.details).toMatchObject({ method: 'passkey' });

    // And as the second factor after a password.
    await context.clearCookies();
    // The authenticator waits for a touch now, so the autofill does not sign in before the password.
    await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: false });
    await page.goto(await authorizationUrl(bank));
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: true });
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await consentIfAsked(page);
    const second = await running.db.prisma.auditEvent.findFirst({
      where: { type: 'login.second_factor', subject: id, outcome: 'success' },
      orderBy: { at: 'desc' },
    });
    expect(second?.details).toMatchObject({ method: 'passkey' });

    await context.close();
    expect(problems).toEqual([]);
  },
  180_000,
);
