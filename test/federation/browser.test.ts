// Signing in through a connection in a real browser (Debian's Chromium, driven by playwright-core):
// the connection's button on the login page, the round trip through the upstream's real login and
// consent pages (a second Portcullis, test/support/upstream.ts), and back at the app's redirect
// with a code that openid-client exchanges; and the person's refusal at the upstream ending on the
// error page (403), screenshot to SCREENSHOT_DIR when it is set.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { pkceAuthorization } from '../support/browser.ts';
import { browserTest, launchChromium, screenshotDirectory } from '../support/chromium.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { startWithUpstream, type Upstream } from '../support/upstream.ts';

const UPSTREAM_PASSWORD = 'the upstream passphrase';
/** The app: a page on a loopback port that answers its redirect (set in beforeAll). */
let REDIRECT = '';
const appServer = http.createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<p>the app</p>'));

let browser: Browser | undefined;
let upstream: Upstream | undefined;
let running: RunningServer | undefined;
let app: { client_id: string; client_secret?: string };
let config: client.Configuration;

beforeAll(async () => {
  browser = await launchChromium();
  if (!browser) return;
  await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
  REDIRECT = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}/callback`;
  [upstream, running] = await startWithUpstream(startServer());
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
    { name: 'Web app', grant_types: ['authorization_code'], redirect_uris: [REDIRECT] },
    CLI_ACTOR,
  );
  config = await client.discovery(new URL(running.url), app.client_id, app.client_secret, client.ClientSecretBasic(app.client_secret!), {
    execute: [client.allowInsecureRequests],
  });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  if (appServer.listening) appServer.close();
  await Promise.allSettled([running?.stop(), upstream?.stop()]);
}, 60_000);

/** A page in a browser context of its own (its own cookies). */
async function newPage(): Promise<Page> {
  const context = await browser!.newContext();
  return context.newPage();
}

/** From the server under test's login page, through its connection button, to the upstream's login page, signed in there. */
async function throughUpstream(page: Page, email: string): Promise<void> {
  const button = page.locator('form[action$="/federation/up"] button');
  expect(await button.textContent()).toContain('Upstream');
  await Promise.all([page.waitForURL((url) => url.origin === upstream!.url && url.pathname.startsWith('/interaction/')), button.click()]);
  await page.fill('#email', email);
  await page.fill('#password', UPSTREAM_PASSWORD);
  await page.click('form[action$="/login"] button[type=submit]');
  try {
    await page.waitForSelector('form[action$="/confirm"]', { timeout: 20_000 });
  } catch (error) {
    // Where it stopped instead, to be read in the failure (and seen, in the screenshot folder).
    fs.mkdirSync(screenshotDirectory, { recursive: true });
    await page.screenshot({ path: `${screenshotDirectory}/federation-stopped-upstream.png`, fullPage: true }).catch(() => undefined);
    const text = await page
      .locator('main')
      .innerText()
      .catch(() => '(no main)');
    throw new Error(`no upstream consent page: at ${page.url()}: ${text.replace(/\s+/g, ' ').slice(0, 400)}`, { cause: error });
  }
  expect(new URL(page.url()).origin).toBe(upstream!.url);
}

browserTest(
  'the login page’s button, the upstream’s own login and consent pages, and back at the app with a code for a local account',
  async () => {
    const email = 'chromium-federated@example.com';
    const upstreamSub = await upstream!.createUser(email, UPSTREAM_PASSWORD, 'Chromium Person');
    const page = await newPage();
    const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid email' });
    await page.goto(request.url);
    expect(new URL(page.url()).origin).toBe(running!.url);
    await throughUpstream(page, email);
    const landed = page.waitForURL(
      (url) => url.href.startsWith(REDIRECT) || (url.origin === running!.url && url.pathname.startsWith('/interaction/')),
    );
    await page.click('form[action$="/confirm"] button');
    await landed;
    if (!page.url().startsWith(REDIRECT)) {
      // The server under test asks for its own consent for the app.
      await Promise.all([page.waitForURL((url) => url.href.startsWith(REDIRECT)), page.click('form[action$="/confirm"] button')]);
    }
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: request.verifier });
    const claims = tokens.claims()!;
    expect(claims.amr).toContain('fed');
    expect(claims.sub).not.toBe(upstreamSub);
    expect(await running!.db.prisma.user.findUnique({ where: { id: claims.sub } })).toMatchObject({ email, passwordHash: null });
    await page.context().close();
  },
  60_000,
);

browserTest(
  'denied at the upstream: the error page, with status 403',
  async () => {
    const email = 'chromium-denies@example.com';
    await upstream!.createUser(email, UPSTREAM_PASSWORD);
    const page = await newPage();
    const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid email' });
    await page.goto(request.url);
    await throughUpstream(page, email);
    const errorPage = page.waitForResponse(
      (response) =>
        new URL(response.url()).origin === running!.url && response.request().isNavigationRequest() && response.status() !== 303,
    );
    await page.click('form[action$="/abort"] button');
    const response = await errorPage;
    expect(response.status()).toBe(403);
    await page.waitForLoadState();
    expect(page.url().startsWith(REDIRECT)).toBe(false);
    expect(await page.locator('form[action$="/login"] #password').count()).toBe(0);
    if (process.env.SCREENSHOT_DIR) {
      fs.mkdirSync(screenshotDirectory, { recursive: true });
      await page.screenshot({ path: `${screenshotDirectory}/federation-denied-1280-light.png`, fullPage: true });
    }
    await page.context().close();
  },
  60_000,
);
