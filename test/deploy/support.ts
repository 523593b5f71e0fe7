// Helpers of the deployment tests: the project's files as a fresh clone would have them, the
// image's build context (.dockerignore applied), the Dockerfile read as data, and child
// processes that are always ended (their whole process group) when a test is over.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const root = path.resolve(import.meta.dirname, '../..');

/**
 * The files a clone would have, with the work not yet committed: tracked and untracked files
 * that .gitignore does not ignore (`git ls-files -co --exclude-standard`), less those deleted.
 */
export function projectFiles(): string[] {
  const listed = spawnSync('git', ['ls-files', '-z', '-c', '-o', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  return [...new Set(listed.stdout.split('\0').filter(Boolean))].filter((file) =>
    fs.lstatSync(path.join(root, file), { throwIfNoEntry: false }),
  );
}

export function copyFiles(files: string[], destination: string): void {
  for (const file of files) {
    const target = path.join(destination, file);
    const source = path.join(root, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // Git keeps a symbolic link as a link (prisma/<provider>/models -> ../models): copy the link itself.
    if (fs.lstatSync(source).isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(source), target);
    else fs.cpSync(source, target, { preserveTimestamps: true });
  }
}

/** One .dockerignore pattern as a regular expression over a relative path (Docker's rules: `*`, `**`, `?`; a folder covers what is in it). */
function patternRegExp(pattern: string): RegExp {
  const cleaned = pattern.replace(/^\/+/, '').replace(/\/+$/, '');
  let source = '';
  for (let i = 0; i < cleaned.length; i += 1) {
    const char = cleaned[i]!;
    if (char === '*' && cleaned[i + 1] === '*') {
      source += cleaned[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += cleaned[i + 2] === '/' ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}(?:/.*)?$`);
}

/** What `docker build` sends as the context: the files .dockerignore leaves (the last matching pattern decides). */
export function buildContextFiles(files: string[]): string[] {
  const rules = fs
    .readFileSync(path.join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) =>
      line.startsWith('!') ? { keep: true, regexp: patternRegExp(line.slice(1)) } : { keep: false, regexp: patternRegExp(line) },
    );
  return files.filter((file) => {
    let kept = true;
    for (const rule of rules) if (rule.regexp.test(file)) kept = rule.keep;
    return kept;
  });
}

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages and instructions (continuation lines joined, comments dropped). */
export function readDockerfile(): { args: Record<string, string>; stages: Stage[] } {
  const text = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const lines = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { op: op.toUpperCase(), args: rest.trim() };
    if (instruction.op === 'FROM') {
      const [, from = '', name = ''] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args) ?? [];
      stages.push({ name, from, instructions: [] });
    } else if (stages.length === 0 && instruction.op === 'ARG') {
      const [name = '', value = ''] = instruction.args.split('=');
      args[name] = value;
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { args, stages };
}

export function stage(stages: Stage[], name: string): Stage {
  const found = stages.find((s) => s.name === name);
  if (!found) throw new Error(`the Dockerfile has no stage named ${name}`);
  return found;
}

/** `ENV A=1 B=2` lines of a stage, as one record (values without quotes or spaces, as ours are). */
export function stageEnv(s: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { op, args } of s.instructions) {
    if (op !== 'ENV') continue;
    for (const pair of args.split(/\s+/)) {
      const at = pair.indexOf('=');
      if (at > 0) env[pair.slice(0, at)] = pair.slice(at + 1);
    }
  }
  return env;
}

/** The JSON (exec) form of CMD, or of HEALTHCHECK's CMD after its options. */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  return JSON.parse(json) as string[];
}

/** The environment for a child process: ours, without jest's and npm's own variables (npm_config_nodedir kept). */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name === 'NODE_OPTIONS' || name === 'NODE_ENV' || name === 'INIT_CWD' || name.startsWith('JEST_')) continue;
    if (
      name.startsWith('npm_') &&
      !['npm_config_nodedir', 'npm_config_cache', 'npm_config_userconfig', 'npm_config_registry'].includes(name)
    )
      continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs a command to completion, bounded by `timeoutMs` (then its process group is killed). */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => killGroup(child), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export interface Started {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a long-running command in its own process group; the caller stops it. */
export function start(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Started {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited };
}

/** Polls `check` until it returns true, or throws after `timeoutMs` with `describe()`. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; ;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((wait) => setTimeout(wait, 250));
  }
}

/** SIGTERM to the process itself (as an orchestrator sends it), then the exit; the group is killed after `timeoutMs`. */
export async function stop(started: Started, timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (started.child.exitCode === null && started.child.signalCode === null) started.child.kill('SIGTERM');
  const killer = setTimeout(() => killGroup(started.child), timeoutMs);
  const result = await started.exited;
  clearTimeout(killer);
  return result;
}

/** Every file under `dir` with its size and modification time, to show that nothing was written there. */
export function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (folder: string) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      const stat = fs.lstatSync(full);
      files.set(path.relative(dir, full), entry.isDirectory() ? 'dir' : `${stat.size}:${stat.mtimeMs}`);
      if (entry.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return files;
}

export function snapshotChanges(before: Map<string, string>, after: Map<string, string>): string[] {
  const changes: string[] = [];
  for (const [file, state] of after) if (before.get(file) !== state) changes.push(before.has(file) ? `changed ${file}` : `added ${file}`);
  for (const file of before.keys()) if (!after.has(file)) changes.push(`removed ${file}`);
  return changes;
}

/** A command is on the PATH (and answers `--version`). */
export function hasCommand(command: string): boolean {
  return spawnSync(command, ['--version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

/** The slow tests run once, in the SQLite project: they bring their own database. */
export const secondProject = process.env.PORTCULLIS_TEST_DATABASE === 'postgres';

/** Production secrets for a test run, as files (the *_FILE variables). */
export function writeSecretFiles(dir: string): Record<string, string> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const random = () => crypto.randomBytes(32).toString('base64url');
  const secrets = { COOKIE_KEYS: random(), KEY_ENCRYPTION_KEY: random(), HASH_PEPPER: random() };
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(secrets)) {
    const file = path.join(dir, name.toLowerCase());
    fs.writeFileSync(file, `${value}\n`, { mode: 0o600 });
    env[`${name}_FILE`] = file;
  }
  return env;
}
