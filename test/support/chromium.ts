// Debian's Chromium for the tests that drive a real browser (playwright-core): found on the PATH
// as `.ci/run` looks for it (and installs it when missing), and launched headless with the
// flags this machine's closed network needs (no background connections, no component updates).
// CI must run these tests (CI=true); elsewhere they run when Chromium is there.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const chromiumPath = (process.env.PATH ?? '')
  .split(path.delimiter)
  .flatMap((directory) => ['chromium', 'chromium-browser'].map((name) => path.join(directory, name)))
  .find((candidate) => fs.existsSync(candidate));

const required = process.env.CI === 'true';

/** Where the browser tests' screenshots go, to be looked at: SCREENSHOT_DIR, or a folder in the system's temp dir. */
export const screenshotDirectory = process.env.SCREENSHOT_DIR ?? path.join(os.tmpdir(), 'portcullis-shots');

/** `test` when Chromium can run (or must: CI), else `test.skip` with a word about installing it. */
export const browserTest: typeof test = chromiumPath || required ? test : test.skip;
if (!chromiumPath && !required) console.warn('browser test skipped: install Chromium (apt-get install chromium) to run it');

/** Launches headless Chromium, or returns undefined when it is missing outside CI; in CI a missing one fails. */
export async function launchChromium(): Promise<Browser | undefined> {
  if (!chromiumPath) {
    if (required) throw new Error('Chromium is not installed: apt-get install -y chromium (.ci/run does this)');
    return undefined;
  }
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
