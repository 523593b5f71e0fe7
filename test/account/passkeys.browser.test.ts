// Passkeys on the account page in a real browser (Debian's Chromium, driven by playwright-core)
// with a virtual authenticator (Chrome DevTools Protocol's WebAuthn domain): views/assets/passkeys.js
// and @simplewebauthn/browser make the passkey from the options in the page, it is listed, a
// second one on the same authenticator is refused in the page's words (in its live region), and
// it is removed after a confirmation page. The server's issuer is http://localhost:PORT: WebAuthn
// refuses an IP address as the rp id. The new pages are measured for overflow from 320 to 1440 px
// in light and dark, and screenshot (SCREENSHOT_DIR) to be looked at.
import fs from 'node:fs';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { browserTest, launchChromium, screenshotDirectory } from '../support/chromium.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { createUser } from './support.ts';

const PASSWORD = 'a long and private passphrase';
const WIDTHS = [320, 390, 768, 1280, 1440];
/** axe-core's tags for WCAG 2.0, 2.1 and 2.2, levels A and AA. */
const WCAG_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const axeSource = fs.readFileSync(path.resolve(import.meta.dirname, '../../node_modules/axe-core/axe.min.js'), 'utf8');
let running: RunningServer;
let browser: Browser;
let userId: string;

beforeAll(async () => {
  const launched = await launchChromium();
  if (!launched) return;
  browser = launched;
  running = await startServer({}, { localhost: true });
  userId = await createUser(running.env, 'passkey@example.com', PASSWORD, 'Pass Key');
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await running?.stop();
});

/** Horizontal overflow of the page (px; 0 is none). */
const overflow = (page: Page): Promise<number> =>
  // A string, run in the page: the tests are compiled without the DOM's types.
  page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');

/** Measures the page at every width in both schemes, asks axe-core at two (WCAG 2.2 AA), and screenshots it there. */
async function measure(page: Page, name: string) {
  fs.mkdirSync(screenshotDirectory, { recursive: true });
  await page.evaluate(axeSource);
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      expect([name, colorScheme, width, await overflow(page)]).toEqual([name, colorScheme, width, 0]);
      if (width === 320 || width === 1280) {
        await page.screenshot({ path: `${screenshotDirectory}/security-${name}-${width}-${colorScheme}.png`, fullPage: true });
        const violations: string[] = await page.evaluate(
          `axe.run(document, { runOnly: { type: 'tag', values: ${JSON.stringify(WCAG_AA)} }, resultTypes: ['violations'] }).then((r) => r.violations.map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(' | ')))`,
        );
        expect([name, colorScheme, width, violations]).toEqual([name, colorScheme, width, []]);
      }
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });
}

browserTest(
  'a passkey made with a virtual authenticator is listed, a second on it refused in words, and it is removed',
  async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    const scriptErrors: string[] = [];
    page.on('pageerror', (error) => scriptErrors.push(error.message));

    await page.goto(`${running.url}/account`);
    await page.fill('#email', 'passkey@example.com');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${running.url}/account`), page.click('button[type=submit]')]);
    await measure(page, 'account-before');

    await page.goto(`${running.url}/account/security/totp`);
    await measure(page, 'totp');

    await page.goto(`${running.url}/account/security/passkeys/new`);
    await measure(page, 'passkey-new');
    await page.fill('#passkey-name', 'Virtual laptop');
    await Promise.all([page.waitForURL(`${running.url}/account/security/recovery-codes`), page.click('form.passkey button[type=submit]')]);
    expect(await page.locator('ul.recovery-codes li').count()).toBe(10);
    await measure(page, 'recovery-codes');
    await Promise.all([page.waitForURL(`${running.url}/account`), page.click('text=I have saved them')]);
    expect(await page.textContent('body')).toContain('Virtual laptop');
    const [passkey] = await running.server.services.factors.passkeys.list(userId);
    expect(passkey).toMatchObject({ name: 'Virtual laptop' });
    await measure(page, 'account-after');

    // The same authenticator again: it holds one for this account already (excludeCredentials), and
    // the browser refuses; the page says so in its own words, in the form's live region.
    await page.goto(`${running.url}/account/security/passkeys/new`);
    await page.fill('#passkey-name', 'Twice');
    await page.click('form.passkey button[type=submit]');
    const message = page.locator('[data-passkey-message]', { hasText: /\w/ });
    await message.waitFor({ state: 'visible' });
    expect(await message.textContent()).toBe('This device already holds a passkey for your account: use another device or security key.');
    expect(await message.getAttribute('aria-live')).toBe('polite');
    expect(page.url()).toBe(`${running.url}/account/security/passkeys/new`);
    await page.screenshot({ path: `${screenshotDirectory}/security-passkey-refused-1280-light.png`, fullPage: true });

    await page.goto(`${running.url}/account`);
    await Promise.all([
      // A GET form: the URL ends in an empty query.
      page.waitForURL((url) => url.pathname === `/account/security/passkeys/${passkey!.id}/remove`),
      page.click(`form[action="/account/security/passkeys/${passkey!.id}/remove"] button`),
    ]);
    await measure(page, 'passkey-remove');
    await Promise.all([page.waitForURL(`${running.url}/account`), page.click('form[method=post] button.danger')]);
    expect(await page.textContent('[role=status]')).toContain('The passkey Virtual laptop was removed.');
    expect(await page.locator('ul.grants strong', { hasText: 'Virtual laptop' }).count()).toBe(0);
    expect(await running.server.services.factors.passkeys.list(userId)).toEqual([]);
    expect(scriptErrors).toEqual([]);
    await context.close();
  },
  120_000,
);
