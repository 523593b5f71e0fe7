// The account and developer pages in a real browser (Debian's Chromium, driven by
// playwright-core): signing in from /account comes back to it, a new key is shown once and a
// reload does not make another, and from 320 to 1440 px nothing overflows: no horizontal
// scrolling, and every Revoke button stays inside its card.
import fs from 'node:fs';
import { type Browser, type Page } from 'playwright-core';
import { browserTest, launchChromium, screenshotDirectory } from '../support/chromium.ts';
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { createUser } from './support.ts';

const PASSWORD = 'a long and private passphrase';
const WIDTHS = [320, 390, 768, 1280, 1440];
let running: RunningServer;
let browser: Browser;

beforeAll(async () => {
  const launched = await launchChromium();
  if (!launched) return;
  browser = launched;
  running = await startServer();
  await createUser(running.env, 'wide@example.com', PASSWORD, 'Wide Screen');
  await cli(
    [
      'resource',
      'create',
      '--audience',
      'https://maps.example.com',
      '--scope',
      'tiles:read tiles:write',
      '--personal-key-scope',
      'tiles:read tiles:write',
      '--name',
      'Maps API',
      '--json',
    ],
    running.env,
  );
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await running?.stop();
});

/** Horizontal overflow of the page, and of each Revoke button past its card (px; 0 is none). */
function overflow(page: Page): Promise<{ page: number; buttons: number[] }> {
  // A string, run in the page: the tests are compiled without the DOM's types.
  return page.evaluate(`(() => {
    const card = document.querySelector('main.card').getBoundingClientRect();
    const buttons = [...document.querySelectorAll('button.danger')].map((button) => {
      const box = button.getBoundingClientRect();
      return Math.max(0, box.right - card.right, card.left - box.left);
    });
    return { page: document.documentElement.scrollWidth - document.documentElement.clientWidth, buttons };
  })()`);
}

browserTest('signed out to signed in and back; a key shown once; no overflow from 320 to 1440 px in light and dark', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${running.url}/account/keys`);
  await page.fill('#email', 'wide@example.com');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${running.url}/account/keys`), page.click('button[type=submit]')]);

  const name = 'A rather long key name for the nightly export of every tile';
  await page.fill('#name-0', name);
  await page.check('#scope-0-0');
  await page.check('#scope-0-1');
  await Promise.all([page.waitForURL(`${running.url}/account/keys`), page.click('form.create-key button[type=submit]')]);
  const key = await page.inputValue('#new-key');
  expect(key).toMatch(/^pcl_test_/);
  await page.reload();
  expect(await page.locator('#new-key').count()).toBe(0);
  expect((await running.server.services.apiKeys.list()).filter((item) => item.name === name)).toHaveLength(1);

  fs.mkdirSync(screenshotDirectory, { recursive: true });
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    for (const path of ['/account/keys', '/account']) {
      await page.goto(`${running.url}${path}`);
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 900 });
        const measured = await overflow(page);
        expect([path, colorScheme, width, measured.page]).toEqual([path, colorScheme, width, 0]);
        expect([path, colorScheme, width, measured.buttons.filter((excess) => excess > 0.5)]).toEqual([path, colorScheme, width, []]);
        if (width === 390 || width === 1280) {
          await page.screenshot({
            path: `${screenshotDirectory}/account${path.replaceAll('/', '-')}-${width}-${colorScheme}.png`,
            fullPage: true,
          });
        }
      }
    }
  }
  await context.close();
});
