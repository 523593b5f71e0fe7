// A person in a real browser: headless Chromium (Debian's package, driven by playwright-core)
// signs in through the real pages and lands on the app's redirect URI with a code.
import { type Browser } from 'playwright-core';
import * as client from 'openid-client';
import { pkceAuthorization } from '../support/browser.ts';
import { browserTest, launchChromium } from '../support/chromium.ts';
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8124/callback';

let running: RunningServer;
let browser: Browser;

beforeAll(async () => {
  const launched = await launchChromium();
  if (!launched) return;
  browser = launched;
  running = await startServer();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await running?.stop();
});

browserTest(
  'a person signs in and consents in Chromium and lands on the redirect URI with a code',
  async () => {
    await cli(['user', 'create', '--email', 'grace@example.com', '--password-stdin', '--json'], running.env, 'a very long passphrase');
    const app = (
      await cli(
        ['client', 'create', '--name', 'Browser App', '--public', '--grant', 'authorization_code', '--redirect-uri', REDIRECT, '--json'],
        running.env,
      )
    ).json<{ client_id: string }>();
    const config = await client.discovery(new URL(running.url), app.client_id, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    const { url, verifier } = await pkceAuthorization(config, {
      redirect_uri: REDIRECT,
      scope: 'openid email',
      state: 'browser-state',
    });

    const page = await browser.newPage();
    // Nothing listens at the app's address: answer for it, as the app would.
    await page.route('http://127.0.0.1:8124/**', (route) =>
      route.fulfill({ status: 200, contentType: 'text/plain', body: 'app callback' }),
    );
    await page.goto(url.toString());
    await page.getByLabel('Email').fill('grace@example.com');
    await page.getByLabel('Password').fill('a very long passphrase');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: /Allow Browser App access/ }).waitFor();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:8124\/callback\?/);

    const landed = new URL(page.url());
    expect(landed.searchParams.get('state')).toBe('browser-state');
    expect(landed.searchParams.get('code')).toBeTruthy();
    const tokens = await client.authorizationCodeGrant(config, landed, { pkceCodeVerifier: verifier, expectedState: 'browser-state' });
    expect((await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).email).toBe('grace@example.com');
    await page.close();
  },
  60_000,
);

/** WCAG 2.2's contrast ratio of two computed CSS colours (`rgb(r, g, b)`). */
function contrast(foreground: string, background: string): number {
  const luminance = (color: string) => {
    const [r, g, b] = (color.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((channel) => {
      const value = Number(channel) / 255;
      return value <= 0.03928 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const [light, dark] = [luminance(foreground), luminance(background)].sort((a, b) => b - a);
  return (light! + 0.05) / (dark! + 0.05);
}

browserTest.each(['light', 'dark'] as const)(
  'in the %s colour scheme, button text on its fill meets WCAG AA (4.5:1)',
  async (colorScheme) => {
    const context = await browser.newContext({ colorScheme });
    const page = await context.newPage();
    // The error page carries the stylesheet every page shares; the buttons are measured on it.
    await page.goto(`${running.url}/interaction/no-such-sign-in`);
    // Runs in the page (a string: the tests are compiled without the DOM's types).
    const pairs: { kind: string; color: string; background: string }[] = await page.evaluate(`
      ['', 'danger'].map((kind) => {
        const button = document.createElement('button');
        button.className = kind;
        button.textContent = 'probe';
        document.body.append(button);
        const style = getComputedStyle(button);
        return { kind: kind || 'primary', color: style.color, background: style.backgroundColor };
      })
    `);
    for (const { kind, color, background } of pairs) {
      expect({ kind, ratio: contrast(color, background) >= 4.5 }).toEqual({ kind, ratio: true });
    }
    await context.close();
  },
  30_000,
);
