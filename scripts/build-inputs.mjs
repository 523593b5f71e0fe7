// What the build is made from, and whether dist/ is older than any of it. Read by `npm start`
// (scripts/start.mjs), so it must stay cheap: a stat per source file, about 2 ms for Portcullis.
import fs from 'node:fs';
import path from 'node:path';

const projectRoot = path.resolve(import.meta.dirname, '..');
export const BUILD_STAMP = path.join(projectRoot, 'dist', '.build-stamp');

/** Every file the build reads: the TypeScript sources (not the generated ones), the models and the compiler settings. */
export function buildInputs(root = projectRoot) {
  const files = ['tsconfig.json', 'tsconfig.build.json'].map((name) => path.join(root, name)).filter((file) => fs.existsSync(file));
  const walk = (dir, keep) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (full !== path.join(root, 'src', 'generated')) walk(full, keep);
      } else if (keep(entry.name)) files.push(full);
    }
  };
  walk(path.join(root, 'src'), (name) => name.endsWith('.ts'));
  if (fs.existsSync(path.join(root, 'prisma')))
    walk(path.join(root, 'prisma'), (name) => name.endsWith('.prisma') || name === 'prisma.config.ts');
  return files;
}

/** Why dist/ must be built again, or undefined when it is up to date. */
export function staleBecause(root = projectRoot) {
  let built;
  try {
    built = fs.statSync(path.join(root, 'dist', '.build-stamp')).mtimeMs;
  } catch {
    return 'there is no build yet';
  }
  for (const file of buildInputs(root)) {
    if (fs.statSync(file).mtimeMs > built) return `${path.relative(root, file)} changed after the last build`;
  }
  return undefined;
}
