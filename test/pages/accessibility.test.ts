// Every page, as a person sees it in a real browser (Debian's Chromium, driven by
// playwright-core), held to WCAG 2.2 AA in the light and the dark colour scheme: axe-core finds
// no violation; nothing scrolls sideways from 320 to 1440 px (WCAG 1.4.10); input borders and
// the edges of buttons reach 3:1 against what is behind them (1.4.11, which axe does not check);
// every control shows a focus ring when reached with the keyboard (2.4.7); and the page breaks
// no rule of its Content-Security-Policy (no inline script or style). Screenshots at 390 and
// 1280 px in both schemes go to SCREENSHOT_DIR (default: a folder in the system's temp dir), to
// be looked at.
import fs from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import * as client from 'openid-client';
import * as OTPAuth from 'otpauth';
import { pkceAuthorization } from '../support/browser.ts';
import { browserTest, launchChromium, screenshotDirectory } from '../support/chromium.ts';
import { cli, cliJson } from '../support/cli.ts';
import { linkIn, startMailServer, type MailServer } from '../support/mail.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8125/callback';
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const SCHEMES = ['light', 'dark'] as const;
const WIDTHS = [320, 390, 768, 1280, 1440];
const SCREENSHOT_WIDTHS = new Set([390, 1280]);
/** axe-core's tags for WCAG 2.0, 2.1 and 2.2, levels A and AA. */
const WCAG_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const shotsDirectory = screenshotDirectory;
const axeSource = fs.readFileSync(path.resolve(import.meta.dirname, '../../node_modules/axe-core/axe.min.js'), 'utf8');

let running: RunningServer;
let mail: MailServer;
let browser: Browser;
let webApp: { client_id: string };
let tv: { client_id: string };

beforeAll(async () => {
  const launched = await launchChromium();
  if (!launched) return;
  browser = launched;
  mail = await startMailServer();
  running = await startServer({ SIGNUP: 'open', SMTP_URL: mail.url });
  await cli(['user', 'create', '--email', EMAIL, '--name', 'Ada Lovelace', '--password-stdin', '--json'], running.env, PASSWORD);
  await cliJson(
    [
      'resource',
      'create',
      '--name',
      'Orders API',
      '--audience',
      'https://orders.example.com',
      '--scope',
      'orders:read orders:write',
      '--personal-key-scope',
      'orders:read orders:write',
    ],
    running.env,
  );
  webApp = await cliJson<{ client_id: string }>(
    ['client', 'create', '--name', 'Notes', '--public', '--grant', 'authorization_code', '--redirect-uri', REDIRECT],
    running.env,
  );
  tv = await cliJson<{ client_id: string }>(
    ['client', 'create', '--name', 'Living room TV', '--public', '--grant', DEVICE_GRANT],
    running.env,
  );
  fs.mkdirSync(shotsDirectory, { recursive: true });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await running?.stop();
  await mail?.close();
});

/** A browser context whose pages report every Content-Security-Policy refusal and script error into `problems`. */
async function person(
  problems: string[],
  options: Parameters<Browser['newContext']>[0] = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`script error: ${error.message}`));
  // Nothing listens at the app's address: answer for it, as the app would.
  await page.route('http://127.0.0.1:8125/**', (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'app callback' }));
  return { context, page };
}

interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/**
 * Runs in the page (a string: the tests are compiled without the DOM's types): every input's
 * border, and every button's fill (or, for an outlined one, its border), against the colour
 * behind it; a text-only button (button.link) is text, and axe checks its 4.5:1.
 */
const CONTROL_CONTRAST = `(() => {
  const rgb = (value) => {
    const srgb = /color\\(srgb ([\\d.]+) ([\\d.]+) ([\\d.]+)(?: \\/ ([\\d.]+))?\\)/.exec(value);
    if (srgb) return [Number(srgb[1]) * 255, Number(srgb[2]) * 255, Number(srgb[3]) * 255, srgb[4] === undefined ? 1 : Number(srgb[4])];
    const parts = (value.match(/[\\d.]+/g) || []).map(Number);
    return [parts[0] || 0, parts[1] || 0, parts[2] || 0, parts.length > 3 ? parts[3] : 1];
  };
  const luminance = ([r, g, b]) => {
    const linear = (c) => { const s = c / 255; return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  const ratio = (a, b) => { const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const behind = (element) => {
    for (let node = element.parentElement; node; node = node.parentElement) {
      const color = rgb(getComputedStyle(node).backgroundColor);
      if (color[3] > 0.5) return color;
    }
    return rgb(getComputedStyle(document.documentElement).backgroundColor || 'rgb(255,255,255)');
  };
  const visible = (element) => element.getClientRects().length > 0 && getComputedStyle(element).visibility !== 'hidden';
  const name = (element) => element.tagName.toLowerCase() + (element.id ? '#' + element.id : '') + (element.className ? '.' + String(element.className).split(' ').join('.') : '') + ' "' + (element.textContent || element.name || '').trim().slice(0, 30) + '"';
  const found = [];
  for (const input of document.querySelectorAll('input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea')) {
    if (!visible(input)) continue;
    const style = getComputedStyle(input);
    const edge = parseFloat(style.borderTopWidth) > 0 ? ratio(rgb(style.borderTopColor), behind(input)) : 1;
    if (edge < 3) found.push(name(input) + ' border ' + edge.toFixed(2) + ':1');
  }
  for (const button of document.querySelectorAll('button, a.button')) {
    if (!visible(button)) continue;
    const style = getComputedStyle(button);
    const fill = rgb(style.backgroundColor);
    const border = parseFloat(style.borderTopWidth) > 0 ? rgb(style.borderTopColor) : undefined;
    if (fill[3] < 0.5 && !border) continue;
    const best = Math.max(fill[3] >= 0.5 ? ratio(fill, behind(button)) : 1, border && border[3] >= 0.5 ? ratio(border, behind(button)) : 1);
    if (best < 3) found.push(name(button) + ' edge ' + best.toFixed(2) + ':1');
  }
  return found;
})()`;

/** Runs in the page: the focused element's outline, or why it has none. */
const FOCUS_RING = `(() => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  const style = getComputedStyle(element);
  const label = element.tagName.toLowerCase() + (element.id ? '#' + element.id : '') + ' "' + (element.textContent || element.name || '').trim().slice(0, 30) + '"';
  return { label, style: style.outlineStyle, width: parseFloat(style.outlineWidth) };
})()`;

/**
 * Everything this file checks, on the page as it is now, in both schemes and at every width;
 * returns what is wrong (nothing, when the page is right). `name` names the screenshots (none without it).
 */
async function audit(page: Page, name?: string): Promise<string[]> {
  const problems: string[] = [];
  await page.evaluate(axeSource);
  for (const colorScheme of SCHEMES) {
    await page.emulateMedia({ colorScheme });
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      if (overflow !== 0) problems.push(`${colorScheme} ${width}px: scrolls sideways by ${String(overflow)}px`);
      if (name && SCREENSHOT_WIDTHS.has(width))
        await page.screenshot({ path: path.join(shotsDirectory, `${name}-${width}-${colorScheme}.png`), fullPage: true });
      if (width === 320 || width === 1280) {
        const violations: AxeViolation[] = await page.evaluate(
          `axe.run(document, { runOnly: { type: 'tag', values: ${JSON.stringify(WCAG_AA)} }, resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })))`,
        );
        for (const violation of violations)
          problems.push(
            `${colorScheme} ${width}px axe ${violation.id} (${violation.impact}): ${violation.help}: ${violation.nodes.map((node) => `${node.target.join(' ')} ${node.failureSummary ?? ''}`).join(' | ')}`,
          );
        const weak: string[] = await page.evaluate(CONTROL_CONTRAST);
        for (const control of weak) problems.push(`${colorScheme} ${width}px below 3:1: ${control}`);
      }
    }
  }
  // The keyboard's path through the page: every stop shows a ring of at least 2 px.
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });
  const focusables = (await page.evaluate(
    `document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])').length`,
  )) as number;
  await page.evaluate('document.activeElement && document.activeElement.blur()');
  for (let stop = 0; stop < Math.min(focusables, 40); stop += 1) {
    await page.keyboard.press('Tab');
    const ring = (await page.evaluate(FOCUS_RING)) as { label: string; style: string; width: number } | null;
    if (ring && (ring.style === 'none' || ring.width < 2))
      problems.push(`focus ring missing on ${ring.label} (${ring.style} ${ring.width}px)`);
  }
  return problems;
}

/** An authorization request of the web app, as openid-client builds it. */
async function authorizationUrl(parameters: Record<string, string> = {}): Promise<string> {
  const config = await client.discovery(new URL(running.url), webApp.client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  return (await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid email profile', ...parameters })).url;
}

browserTest(
  'the checks can fail: a page spoilt on purpose is caught by each of them',
  async () => {
    const problems: string[] = [];
    const { context, page } = await person(problems);
    await page.goto(`${running.url}/no-such-page`);
    // Through the CSSOM, which the page's Content-Security-Policy allows (a style attribute it would refuse).
    await page.evaluate(`(() => {
      const card = document.querySelector('main');
      const faint = document.createElement('p');
      faint.textContent = 'faint words';
      faint.style.color = '#cccccc';
      const unlabelled = document.createElement('input');
      unlabelled.type = 'text';
      unlabelled.style.border = '1px solid #eeeeee';
      const ringless = document.createElement('button');
      ringless.textContent = 'no ring';
      ringless.style.outline = 'none';
      const wide = document.createElement('div');
      wide.style.width = '2000px';
      wide.textContent = 'wide';
      card.append(faint, unlabelled, ringless, wide);
    })()`);
    const found = await audit(page);
    await context.close();
    expect(problems).toEqual([]);
    const kinds = (pattern: RegExp) => found.filter((line) => pattern.test(line)).length;
    expect(kinds(/axe color-contrast/)).toBeGreaterThan(0);
    expect(kinds(/axe label/)).toBeGreaterThan(0);
    expect(kinds(/below 3:1: input/)).toBeGreaterThan(0);
    expect(kinds(/focus ring missing on button/)).toBe(1);
    expect(kinds(/scrolls sideways/)).toBe(WIDTHS.length * SCHEMES.length);
  },
  120_000,
);

browserTest(
  'the pages anyone can reach: home, an unknown address, the device form and its error',
  async () => {
    const problems: string[] = [];
    const { context, page } = await person(problems);
    await page.goto(running.url);
    problems.push(...(await audit(page, 'home')));
    await page.goto(`${running.url}/no-such-page`);
    problems.push(...(await audit(page, 'error')));
    await page.goto(`${running.url}/device`);
    problems.push(...(await audit(page, 'device-input')));
    await page.getByLabel('Code').fill('BCDF-GHJK');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('alert').waitFor();
    problems.push(...(await audit(page, 'device-input-wrong')));
    await context.close();
    expect(problems).toEqual([]);
  },
  180_000,
);

browserTest(
  'signing in, a failed attempt, consent, a device connected and signing out',
  async () => {
    const problems: string[] = [];
    const { context, page } = await person(problems);
    await page.goto(await authorizationUrl({ state: 'a11y' }));
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    problems.push(...(await audit(page, 'login')));
    await page.locator('#email').fill(EMAIL);
    await page.locator('#password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    problems.push(...(await audit(page, 'login-failed')));
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: /Allow Notes access/ }).waitFor();
    problems.push(...(await audit(page, 'consent')));
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:8125\/callback\?/);

    // A device asks for a code; the same person, signed in, types it.
    const device = (await (
      await fetch(`${running.url}/device/auth`, { method: 'POST', body: new URLSearchParams({ client_id: tv.client_id, scope: 'openid' }) })
    ).json()) as { user_code: string };
    await page.goto(`${running.url}/device`);
    await page.getByLabel('Code').fill(device.user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Connect Living room TV?' }).waitFor();
    problems.push(...(await audit(page, 'device-confirm')));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: /Allow Living room TV access/ }).waitFor();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'You can return to your device' }).waitFor();
    problems.push(...(await audit(page, 'device-success')));

    await page.goto(`${running.url}/session/end`);
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    problems.push(...(await audit(page, 'logout')));
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
    problems.push(...(await audit(page, 'logged-out')));
    await context.close();
    expect(problems).toEqual([]);
  },
  300_000,
);

browserTest(
  'in German (ui_locales=de): the sign-in and the device pages say so in lang and in words',
  async () => {
    const problems: string[] = [];
    const { context, page } = await person(problems, { locale: 'de-DE' });
    await page.goto(await authorizationUrl({ ui_locales: 'de' }));
    await page.locator('#password').waitFor();
    expect(await page.getAttribute('html', 'lang')).toBe('de');
    problems.push(...(await audit(page, 'login-de')));
    // The browser asks for German (Accept-Language): the device pages are German too.
    await page.goto(`${running.url}/device`);
    expect(await page.getAttribute('html', 'lang')).toBe('de');
    await page.getByRole('heading', { name: 'Gerät verbinden' }).waitFor();
    await page.getByRole('button', { name: 'Weiter' }).click();
    // The browser's own check (required) keeps the empty form from leaving.
    expect(await page.locator('#user_code').evaluate((input: { validity: { valueMissing: boolean } }) => input.validity.valueMissing)).toBe(
      true,
    );
    await page.getByLabel('Code').fill('bcdf ghjk');
    await page.getByRole('button', { name: 'Weiter' }).click();
    await page.getByText('Dieser Code stimmt nicht.').waitFor();
    problems.push(...(await audit(page, 'device-input-de')));
    await context.close();
    expect(problems).toEqual([]);
  },
  180_000,
);

browserTest(
  'the show-password toggle: a button after the password field that shows and hides it; without JavaScript, a plain password field that still signs in',
  async () => {
    const problems: string[] = [];
    const { context, page } = await person(problems);
    await page.goto(await authorizationUrl());
    const password = page.locator('#password');
    await password.fill('secret words');
    const toggle = page.getByRole('button', { name: 'Show password' });
    await expect(toggle.getAttribute('aria-controls')).resolves.toBe('password');
    await toggle.click();
    await expect(password.getAttribute('type')).resolves.toBe('text');
    await page.getByRole('button', { name: 'Hide password' }).click();
    await expect(password.getAttribute('type')).resolves.toBe('password');
    await expect(password.inputValue()).resolves.toBe('secret words');
    await context.close();

    const { context: plain, page: noScript } = await person(problems, { javaScriptEnabled: false });
    await noScript.goto(await authorizationUrl());
    await expect(noScript.locator('#password').getAttribute('type')).resolves.toBe('password');
    await expect(noScript.locator('button.password-toggle').count()).resolves.toBe(0);
    await noScript.locator('#email').fill(EMAIL);
    await noScript.locator('#password').fill(PASSWORD);
    await noScript.getByRole('button', { name: 'Sign in' }).click();
    // Consent may already have been given (an earlier test): then the app's address comes at once.
    await noScript.getByRole('button', { name: 'Allow' }).or(noScript.getByText('app callback')).waitFor();
    if (!noScript.url().includes('/callback?')) {
      await noScript.getByRole('button', { name: 'Allow' }).click();
      await noScript.waitForURL(/^http:\/\/127\.0\.0\.1:8125\/callback\?/);
    }
    await plain.close();
    expect(problems).toEqual([]);
  },
  120_000,
);

browserTest(
  "the other helpers' pages: sign-up, verification, forgotten and reset password, the account page and the developer page",
  async () => {
    const problems: string[] = [];
    const { context, page } = await person(problems);
    const visit = async (url: string, name: string) => {
      const response = await page.goto(url.startsWith('http') ? url : `${running.url}${url}`);
      if (!response || response.status() >= 500) problems.push(`${name}: status ${response?.status()}`);
      problems.push(...(await audit(page, name)).map((line) => `${name}: ${line}`));
    };
    await visit('/signup', 'signup');
    await visit('/verify-email?token=not-a-real-token', 'verify-problem');
    await visit('/verify-email/resend', 'verify-resend');
    await visit('/forgot-password', 'forgot-password');
    await page.locator('input[type=email]').fill(EMAIL);
    await page.locator('main form button[type=submit]').first().click();
    await page.waitForURL(/\/forgot-password\/sent/);
    problems.push(...(await audit(page, 'forgot-sent')).map((line) => `forgot-sent: ${line}`));
    await visit(linkIn(await mail.next(EMAIL), `${running.url}/reset-password`), 'reset-password');
    await visit('/reset-password?token=not-a-real-token', 'reset-problem');

    // Signed in (through the app, as a person would be), the account's own pages.
    await page.goto(await authorizationUrl());
    await page.locator('#email').fill(EMAIL);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).or(page.getByText('app callback')).waitFor();
    if (!page.url().includes('/callback?')) await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByText('app callback').waitFor();
    // A linked sign-in, for its section and its unlink page (written straight to the database: an
    // oauth2 connection needs no upstream until someone signs in through it).
    const ada = await running.db.prisma.user.findUniqueOrThrow({ where: { email: EMAIL } });
    const connection = await running.server.services.federation.connections.create(
      {
        name: 'acme',
        type: 'oauth2',
        display_name: 'Acme Workforce',
        authorization_url: 'https://id.example.com/authorize',
        token_url: 'https://id.example.com/token',
        userinfo_url: 'https://id.example.com/userinfo',
        client_id: 'portcullis',
        client_secret: 'the upstream client secret',
      },
      { type: 'admin' },
    );
    const identity = await running.db.prisma.federatedIdentity.create({
      data: {
        id: 'acme-identity',
        connectionId: connection.id,
        subject: 'ada',
        userId: ada.id,
        email: 'ada@acme.example',
        lastUsedAt: new Date(),
      },
    });
    await visit('/account', 'account');
    if (!(await page.getByRole('heading', { name: 'Linked sign-ins' }).count())) problems.push('account: no linked sign-ins section');
    await visit(`/account/identities/${identity.id}/unlink`, 'account-identity-unlink-confirm');
    await visit('/account/keys', 'keys');
    await page.locator('input[name=name]').first().fill('Nightly export');
    await page.locator('input[name=scope]').first().check();
    await Promise.all([page.waitForURL(/./, { waitUntil: 'load' }), page.locator('form.create-key button[type=submit]').first().click()]);
    await page.waitForLoadState('load');
    if (!(await page.locator('#new-key').count()))
      throw new Error(`no new key at ${page.url()}: ${await page.locator('body').innerText()}`);
    problems.push(...(await audit(page, 'keys-created')).map((line) => `keys-created: ${line}`));
    const revoke = await page.locator('a[href*="/revoke"], form[action*="/revoke"]').first();
    const target = (await revoke.getAttribute('href')) ?? (await revoke.getAttribute('action'));
    if (target) await visit(target, 'keys-revoke-confirm');
    await visit('/account/delete', 'account-delete-confirm');
    await context.close();
    expect(problems).toEqual([]);
  },
  300_000,
);

browserTest(
  'the second step of a sign-in: adding a first factor, the recovery codes, and the code asked for the next time',
  async () => {
    const problems: string[] = [];
    const email = 'grace@example.com';
    const { id } = await running.server.services.users.create({ email, password: PASSWORD }, { type: 'admin' });
    await running.db.prisma.user.update({ where: { id }, data: { mfaRequired: true } });
    const { context, page } = await person(problems);
    await page.goto(await authorizationUrl());
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Add a second step to your sign-in' }).waitFor();
    problems.push(...(await audit(page, 'login-enrol')).map((line) => `login-enrol: ${line}`));
    const secret = (await page.locator('code.secret').innerText()).replaceAll(' ', '');
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) });
    await page.locator('#code').fill('000000' === totp.generate() ? '111111' : '000000');
    await page.getByRole('button', { name: 'Add the app' }).click();
    await page.getByRole('alert').waitFor();
    problems.push(...(await audit(page, 'login-enrol-wrong')).map((line) => `login-enrol-wrong: ${line}`));
    await page.locator('#code').fill(totp.generate());
    await page.getByRole('button', { name: 'Add the app' }).click();
    await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    problems.push(...(await audit(page, 'login-recovery-codes')).map((line) => `login-recovery-codes: ${line}`));
    await page.getByRole('button', { name: /I have saved them/ }).click();
    await page.getByRole('button', { name: 'Allow' }).or(page.getByText('app callback')).waitFor();
    await context.close();

    const { context: later, page: again } = await person(problems);
    await again.goto(await authorizationUrl());
    await again.locator('#email').fill(email);
    await again.locator('#password').fill(PASSWORD);
    await again.getByRole('button', { name: 'Sign in' }).click();
    await again.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    problems.push(...(await audit(again, 'login-second-factor')).map((line) => `login-second-factor: ${line}`));
    await again.locator('#code').fill('12a');
    await again.getByRole('button', { name: 'Verify' }).click();
    await again.getByRole('alert').waitFor();
    problems.push(...(await audit(again, 'login-second-factor-wrong')).map((line) => `login-second-factor-wrong: ${line}`));
    await later.close();
    expect(problems).toEqual([]);
  },
  240_000,
);

browserTest(
  'signing in through another identity provider: the buttons under the form, and a failed callback',
  async () => {
    const problems: string[] = [];
    // An OAuth 2.0 connection: nothing is fetched until someone uses it.
    await running.server.services.federation.connections.create(
      {
        name: 'example-corp',
        type: 'oauth2',
        display_name: 'Example Corp',
        authorization_url: 'https://id.example.com/authorize',
        token_url: 'https://id.example.com/token',
        userinfo_url: 'https://id.example.com/userinfo',
        client_id: 'portcullis',
        client_secret: 'the upstream client secret',
        position: 1,
      },
      { type: 'admin' },
    );
    const { context, page } = await person(problems);
    await page.goto(await authorizationUrl());
    await page.getByRole('button', { name: 'Continue with Example Corp' }).waitFor();
    problems.push(...(await audit(page, 'login-connections')).map((line) => `login-connections: ${line}`));
    // A callback that belongs to no sign-in: the error page, 400.
    const response = await page.goto(`${running.url}/federation/example-corp/callback?code=x&state=not-ours`);
    if (response?.status() !== 400) problems.push(`federation error: status ${response?.status()}`);
    problems.push(...(await audit(page, 'federation-error')).map((line) => `federation-error: ${line}`));
    await context.close();
    expect(problems).toEqual([]);
  },
  180_000,
);

browserTest(
  'after an upstream sign-in: the link step (the login page with its notice) and the code of an address nobody vouched for',
  async () => {
    // The upstream: another Portcullis, with Ada (whose address has an account here too) and Grace.
    const upstream = await startServer();
    const problems: string[] = [];
    try {
      for (const email of [EMAIL, 'hedy@example.com'])
        await upstream.server.services.users.create({ email, password: PASSWORD, name: 'Upstream person' }, { type: 'admin' });
      const registered = await upstream.server.services.clients.create(
        {
          name: 'Portcullis downstream',
          grant_types: ['authorization_code'],
          redirect_uris: [`${running.url}/federation/upstream-id/callback`],
        },
        { type: 'admin' },
      );
      await running.server.services.federation.connections.create(
        {
          name: 'upstream-id',
          type: 'oidc',
          display_name: 'Upstream ID',
          issuer: upstream.url,
          client_id: registered.client_id,
          client_secret: registered.client_secret!,
        },
        { type: 'admin' },
      );
      const throughUpstream = async (email: string) => {
        const { context, page } = await person(problems);
        await page.goto(await authorizationUrl());
        await page.getByRole('button', { name: 'Continue with Upstream ID' }).click();
        await page.locator('#email').fill(email);
        await page.locator('#password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.getByRole('button', { name: 'Allow' }).click();
        return { context, page };
      };
      const ada = await throughUpstream(EMAIL);
      await ada.page.getByText('An account with this address already exists here').waitFor();
      problems.push(...(await audit(ada.page, 'login-link-step')).map((line) => `login-link-step: ${line}`));
      await ada.context.close();
      const grace = await throughUpstream('hedy@example.com');
      await grace.page.getByRole('heading', { name: 'Confirm your email address' }).waitFor();
      problems.push(...(await audit(grace.page, 'login-federation-code')).map((line) => `login-federation-code: ${line}`));
      await grace.page.locator('#code').fill('000000');
      await grace.page.getByRole('button', { name: 'Confirm' }).click();
      await grace.page.getByRole('alert').waitFor();
      problems.push(...(await audit(grace.page, 'login-federation-code-wrong')).map((line) => `login-federation-code-wrong: ${line}`));
      await grace.context.close();
    } finally {
      await upstream.stop();
    }
    expect(problems).toEqual([]);
  },
  240_000,
);

browserTest.each(['#ffeb3b', '#3451b2'])(
  'a brand colour (BRAND_COLOR=%s): links readable and buttons keep a 3:1 edge in both schemes',
  async (color) => {
    const branded = await startServer({ BRAND_NAME: 'Acme', BRAND_COLOR: color });
    const problems: string[] = [];
    try {
      const { context, page } = await person(problems);
      await page.goto(`${branded.url}/device`);
      expect(await page.title()).toBe('Connect a device · Acme');
      problems.push(...(await audit(page, `brand-${color.slice(1)}-device`)));
      await page.goto(`${branded.url}/no-such-page`);
      problems.push(...(await audit(page)));
      await context.close();
    } finally {
      await branded.stop();
    }
    expect(problems).toEqual([]);
  },
  120_000,
);

/** The 320 px screenshots of a page in both schemes (audit takes 390 and 1280), for the pages of roles and organizations. */
async function narrowShots(page: Page, name: string): Promise<void> {
  for (const colorScheme of SCHEMES) {
    await page.emulateMedia({ colorScheme });
    await page.setViewportSize({ width: 320, height: 900 });
    await page.screenshot({ path: path.join(shotsDirectory, `${name}-320-${colorScheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });
}

browserTest(
  "roles and organizations: consent's refused scopes and its pick, the account page's organizations, leaving, an organization's keys, and the invitation pages",
  async () => {
    // A server of its own: people may make organizations there (ORGANIZATION_CREATION=people).
    const orgs = await startServer({
      SIGNUP: 'open',
      SMTP_URL: mail.url,
      ORGANIZATION_CREATION: 'people',
      ORGANIZATION_OWNER_ROLES: 'owner',
    });
    const problems: string[] = [];
    try {
      const { resources, roles, organizations, users, clients } = orgs.server.services;
      const admin = { type: 'admin' } as const;
      const NOTES = 'https://notes.example.com';
      const BILLING = 'https://billing.example.com';
      await resources.create({ audience: NOTES, name: 'Notes API', scope: 'notes:read notes:write notes:admin', rbac: true }, admin);
      await resources.create(
        { audience: BILLING, name: 'Billing API', scope: 'invoices:read invoices:write', personal_key_scope: 'invoices:read' },
        admin,
      );
      await roles.create({ name: 'reader', permissions: [`${NOTES}:notes:read`] }, admin);
      await organizations.createRole(
        { name: 'owner', description: 'Runs the organization and its keys', permissions: [`${BILLING}:invoices:write`], manage_keys: true },
        admin,
      );
      await organizations.createRole(
        { name: 'viewer', description: 'Reads the invoices', permissions: [`${BILLING}:invoices:read`] },
        admin,
      );
      const acme = await organizations.create({ name: 'Acme Corporation' }, admin);
      const globex = await organizations.create({ name: 'Globex' }, admin);
      const ada = await users.create({ email: EMAIL, password: PASSWORD, name: 'Ada Lovelace' }, admin);
      await users.create({ email: 'grace@example.com', password: PASSWORD }, admin);
      await roles.assign('reader', { user_id: ada.id }, admin);
      await organizations.addMember(acme.id, { user_id: ada.id, roles: ['owner'] }, admin);
      await organizations.addMember(globex.id, { user_id: ada.id, roles: ['viewer'] }, admin);
      const ledger = await clients.create(
        {
          name: 'Ledger',
          grant_types: ['authorization_code'],
          redirect_uris: [REDIRECT],
          scope: 'notes:read notes:write notes:admin invoices:read invoices:write',
        },
        admin,
      );
      const config = await client.discovery(new URL(orgs.url), ledger.client_id, ledger.client_secret, undefined, {
        execute: [client.allowInsecureRequests],
      });
      const authorize = async (resource: string[], scope: string) => {
        const url = new URL((await pkceAuthorization(config, { redirect_uri: REDIRECT, scope, prompt: 'consent' })).url);
        for (const indicator of resource) url.searchParams.append('resource', indicator);
        return url.toString();
      };
      const check = async (page: Page, name: string) => {
        problems.push(...(await audit(page, name)).map((line) => `${name}: ${line}`));
        await narrowShots(page, name);
      };
      const invitationLink = async (organizationId: string, email: string) => {
        const before = mail.to(email).length;
        await organizations.invite(organizationId, { email, roles: ['viewer'] }, admin);
        return linkIn(await mail.next(email, { after: before }), `${orgs.url}/organization-invitation?token=`);
      };

      const { context, page } = await person(problems);
      // Consent: an rbac API (what the roles do not give, named) and an organization by its name.
      await page.goto(
        await authorize([NOTES, `urn:portcullis:organization:${acme.id}`], 'openid notes:read notes:write notes:admin invoices:write'),
      );
      await page.locator('#email').fill(EMAIL);
      await page.locator('#password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Not available to your account' }).waitFor();
      await check(page, 'consent-roles');
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.getByText('app callback').waitFor();
      // The pick: which organization the app may use.
      await page.goto(await authorize(['urn:portcullis:organization'], 'openid invoices:read invoices:write'));
      await page.getByRole('group', { name: 'Which organization may Ledger use?' }).waitFor();
      await check(page, 'consent-pick');
      await page.getByLabel(/Globex/).check();
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.getByText('app callback').waitFor();

      // The account page's organizations, and leaving one.
      await page.goto(`${orgs.url}/account`);
      await page.getByRole('heading', { name: 'Organizations' }).waitFor();
      await check(page, 'account-organizations');
      await page.getByRole('button', { name: 'Leave Globex' }).click();
      await page.getByRole('heading', { name: 'Leave Globex?' }).waitFor();
      await check(page, 'organization-leave-confirm');
      await page.getByRole('button', { name: 'Leave the organization' }).click();
      await page.getByText('You left Globex.').waitFor();
      await check(page, 'account-organization-left');

      // An organization's keys on the developer page: made, shown once.
      await page.goto(`${orgs.url}/account/keys`);
      await page.getByRole('heading', { name: 'Keys of Acme Corporation' }).waitFor();
      await check(page, 'keys-organization');
      await page.locator('#name-o0-0').fill('Acme nightly');
      await page.locator('#scope-o0-0-0').check();
      await page.getByRole('button', { name: 'Create key for Acme Corporation' }).click();
      await page.locator('#new-key').waitFor();
      await check(page, 'keys-organization-created');

      // The invitations: signed in as its person (Accept), as someone else, signed out, used.
      const mine = await invitationLink(globex.id, EMAIL);
      await page.goto(mine);
      await page.getByRole('button', { name: 'Join Globex' }).waitFor();
      await check(page, 'organization-invitation');
      await page.getByRole('button', { name: 'Join Globex' }).click();
      await page.getByText('You joined Globex.').waitFor();
      const graces = await invitationLink(acme.id, 'grace@example.com');
      const response = await page.goto(graces);
      if (response?.status() !== 403) problems.push(`wrong address: status ${response?.status()}`);
      await check(page, 'organization-invitation-wrong-address');
      const used = await page.goto(mine);
      if (used?.status() !== 410) problems.push(`used invitation: status ${used?.status()}`);
      await check(page, 'organization-invitation-problem');
      await context.close();

      const { context: signedOut, page: grace } = await person(problems);
      await grace.goto(graces);
      await grace.getByRole('link', { name: 'Sign in' }).waitFor();
      await check(grace, 'organization-invitation-signed-out');
      await grace.getByRole('link', { name: 'Sign in' }).click();
      await grace.locator('#email').fill('grace@example.com');
      await grace.locator('#password').fill(PASSWORD);
      await grace.getByRole('button', { name: 'Sign in' }).click();
      await grace.getByRole('button', { name: 'Join Acme Corporation' }).click();
      await grace.getByText('You joined Acme Corporation.').waitFor();
      await signedOut.close();
    } finally {
      await orgs.stop();
    }
    expect(problems).toEqual([]);
  },
  400_000,
);
