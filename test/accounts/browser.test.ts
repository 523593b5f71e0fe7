// A new person in a real browser (headless Chromium, Debian's package, driven by playwright-core):
// starts at an app's sign-in, follows "Create an account", signs up, opens the link of the mail
// a real SMTP server received, confirms, continues the same sign-in and lands on the app with a
// code whose tokens say email_verified true.
import { type Browser } from 'playwright-core';
import * as client from 'openid-client';
import { pkceAuthorization } from '../support/browser.ts';
import { browserTest, launchChromium } from '../support/chromium.ts';
import { cliJson } from '../support/cli.ts';
import { linkIn } from '../support/mail.ts';
import { startWorld, STRONG_PASSWORD, type World } from './support.ts';

const REDIRECT = 'http://127.0.0.1:8125/callback';

let world: World;
let browser: Browser;

beforeAll(async () => {
  const launched = await launchChromium();
  if (!launched) return;
  browser = launched;
  world = await startWorld();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await world?.stop();
});

browserTest(
  'sign up → mail → confirm → continue signing in → back at the app, email verified',
  async () => {
    const app = await cliJson<{ client_id: string }>(
      ['client', 'create', '--name', 'Field Notes', '--public', '--grant', 'authorization_code', '--redirect-uri', REDIRECT],
      world.running.env,
    );
    const config = await client.discovery(new URL(world.running.url), app.client_id, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    const { url, verifier } = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid email', state: 'signup-state' });
    const email = `ada.${Date.now()}@example.com`;

    const page = await browser.newPage();
    await page.route('http://127.0.0.1:8125/**', (route) =>
      route.fulfill({ status: 200, contentType: 'text/plain', body: 'app callback' }),
    );
    await page.goto(url);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByRole('heading', { name: 'Create an account' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD);
    await page.getByLabel('Your name').fill('Ada');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();

    const mail = await world.mail.next(email);
    await page.goto(linkIn(mail, `${world.running.url}/verify-email?token=`));
    await page.getByRole('button', { name: 'Confirm my email address' }).click();
    await page.getByRole('heading', { name: 'Your email address is confirmed' }).waitFor();
    await page.getByRole('link', { name: 'Continue signing in' }).click();

    // Back at the same sign-in: focus is on the email field (nothing typed yet).
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill('not my password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    // After a failed attempt the password field has the focus, to type it again.
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('password');
    await page.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:8125\/callback\?/);

    const landed = new URL(page.url());
    const tokens = await client.authorizationCodeGrant(config, landed, { pkceCodeVerifier: verifier, expectedState: 'signup-state' });
    expect(await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).toMatchObject({ email, email_verified: true });
    await page.close();
  },
  90_000,
);
