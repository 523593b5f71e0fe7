// The one check of the Node.js version, shared by every entry point (`npm start`, the
// `portcullis` command, the install-time build) so an old Node fails at once with one line that
// says what to install, instead of a stack trace from deep inside a dependency. The required
// version is read from package.json's `engines`, which `.nvmrc` and the lockfile repeat (a test
// keeps the three in step).
import fs from 'node:fs';
import path from 'node:path';

const manifest = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '..', 'package.json'), 'utf8'));

/** `engines.node` is written as `>=MAJOR.MINOR`; anything else is a mistake in package.json. */
export function requiredNode(range = manifest.engines.node) {
  const match = /^>=(\d+)\.(\d+)$/.exec(range);
  if (!match) throw new Error(`package.json engines.node must read >=MAJOR.MINOR, not ${range}`);
  return { major: Number(match[1]), minor: Number(match[2]), text: `${match[1]}.${match[2]}` };
}

export function nodeIsRecentEnough(version = process.versions.node, required = requiredNode()) {
  const [major, minor] = version.split('.').map(Number);
  return major > required.major || (major === required.major && minor >= required.minor);
}

/** Exits with one line on stderr when this Node.js is too old. */
export function requireRecentNode() {
  const required = requiredNode();
  if (nodeIsRecentEnough(process.versions.node, required)) return;
  process.stderr.write(
    `portcullis: needs Node.js ${required.text} or newer, and this is ${process.version}. ` +
      `Install Node.js ${required.major} LTS (\`nvm install\` reads .nvmrc; or https://nodejs.org/en/download) and run the command again.\n`,
  );
  process.exit(1);
}
