// The image for real, where a Docker daemon answers: build it, run it with a read-only root
// filesystem, a tmpfs on /tmp and a volume on /data, wait for its HEALTHCHECK to say healthy,
// fetch the discovery document through the published port, then stop it and find it exited 0
// having changed nothing in its filesystem. Skipped, with the reason printed, where the daemon
// or a base image is missing (no daemon on CI here; Docker Hub is unreachable, so a base image is
// found locally: PORTCULLIS_NODE_IMAGE, node:22-bookworm-slim, or the stand-in that
// deploy/local-base-image.sh builds). Slow: the build compiles better-sqlite3.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root, run, secondProject, waitFor } from './support.ts';

const BUILD_TIMEOUT_MS = 15 * 60_000;

function docker(args: string[], timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('docker', args, { encoding: 'utf8', timeout: timeoutMs });
  return { status: result.status, stdout: result.stdout?.trim() ?? '', stderr: result.stderr?.trim() ?? (result.error?.message || '') };
}

function skipReason(): string | undefined {
  if (secondProject) return 'runs once, in the sqlite project';
  const info = docker(['info', '--format', '{{.ServerVersion}}'], 15_000);
  if (info.status !== 0) return `no Docker daemon answers here (docker info: ${(info.stderr || 'docker not installed').split('\n')[0]})`;
  return undefined;
}

function baseImage(): string | { skip: string } {
  const candidates = [process.env.PORTCULLIS_NODE_IMAGE, 'node:22-bookworm-slim', 'portcullis-base/node:22-bookworm-slim'].filter(
    (image): image is string => Boolean(image),
  );
  const present = candidates.find((image) => docker(['image', 'inspect', image], 15_000).status === 0);
  if (present) return present;
  const pulled = docker(['pull', 'node:22-bookworm-slim'], 120_000);
  if (pulled.status === 0) return 'node:22-bookworm-slim';
  return {
    skip: `no base image: none of ${candidates.join(', ')} is present and \`docker pull node:22-bookworm-slim\` failed (${pulled.stderr.split('\n')[0]}); build a stand-in with deploy/local-base-image.sh`,
  };
}

const reason = skipReason();
const base = reason ? undefined : baseImage();
const skip = reason ?? (typeof base === 'object' ? base.skip : undefined);
if (skip) console.warn(`test/deploy/docker: skipped: ${skip}`);
const describeHere = skip ? describe.skip : describe;

describeHere(`the image, built and run read-only${skip ? ` (skipped: ${skip})` : ''} (slow: the build compiles better-sqlite3)`, () => {
  const tag = `portcullis:test-${process.pid}`;
  const volume = `portcullis-test-${process.pid}`;
  const container = `portcullis-test-${process.pid}`;
  let secrets: string;
  let build: { code: number | null; output: string };

  beforeAll(async () => {
    build = await run('docker', ['build', '--build-arg', `NODE_IMAGE=${base as string}`, '--tag', tag, '.'], {
      cwd: root,
      env: process.env,
      timeoutMs: BUILD_TIMEOUT_MS,
    });
    secrets = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-docker-secrets-'));
    fs.chmodSync(secrets, 0o755);
    for (const name of ['cookie_keys', 'key_encryption_key', 'hash_pepper']) {
      const file = path.join(secrets, name);
      fs.writeFileSync(file, `${crypto.randomBytes(32).toString('base64url')}\n`, { mode: 0o400 });
      // The image's user (uid 10001) reads them; when we are not root, they stay readable by all.
      if (process.getuid?.() === 0) fs.chownSync(file, 10001, 10001);
      else fs.chmodSync(file, 0o444);
    }
  }, BUILD_TIMEOUT_MS + 60_000);

  afterAll(() => {
    docker(['rm', '--force', container]);
    docker(['volume', 'rm', '--force', volume]);
    docker(['image', 'rm', '--force', tag]);
    if (secrets) fs.rmSync(secrets, { recursive: true, force: true });
  });

  test('builds', () => {
    expect({ code: build.code, tail: build.code === 0 ? '' : build.output.slice(-4000) }).toEqual({ code: 0, tail: '' });
  });

  test('runs as uid 10001 without devDependencies or sources', () => {
    const inside = docker([
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      tag,
      '-c',
      'id -u; test ! -e node_modules/jest && test ! -e src && echo clean',
    ]);
    expect(inside.stdout.split('\n')).toEqual(['10001', 'clean']);
  });

  test('runs with a read-only root filesystem, becomes healthy, serves, stops with 0 and wrote nothing outside /data and /tmp', async () => {
    const started = docker([
      'run',
      '--detach',
      '--name',
      container,
      '--read-only',
      '--tmpfs',
      '/tmp',
      '--volume',
      `${volume}:/data`,
      '--volume',
      `${secrets}:/run/secrets:ro`,
      '--publish',
      '127.0.0.1::3000',
      '--env',
      'ISSUER=http://localhost:3000',
      '--env',
      'COOKIE_KEYS_FILE=/run/secrets/cookie_keys',
      '--env',
      'KEY_ENCRYPTION_KEY_FILE=/run/secrets/key_encryption_key',
      '--env',
      'HASH_PEPPER_FILE=/run/secrets/hash_pepper',
      tag,
    ]);
    expect(started.stderr).toBe('');
    const logs = () => docker(['logs', container]).stdout + docker(['logs', container]).stderr;
    await waitFor(async () => docker(['inspect', '--format', '{{.State.Health.Status}}', container]).stdout === 'healthy', 120_000, logs);

    const published = docker(['port', container, '3000/tcp']).stdout.split('\n')[0]!;
    const response = await fetch(`http://${published}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { issuer: string }).issuer).toBe('http://localhost:3000');

    const stopped = docker(['stop', '--time', '20', container], 60_000);
    expect(stopped.status).toBe(0);
    expect(docker(['inspect', '--format', '{{.State.ExitCode}}', container]).stdout).toBe('0');
    // docker diff lists changes to the container's own layer; /data and /tmp are mounts, not in
    // it. Docker itself adds the mount point of the secrets (/run/secrets).
    const changed = docker(['diff', container])
      .stdout.split('\n')
      .filter((line) => line && !/^[AC] \/run(\/secrets)?$/.test(line));
    expect(changed).toEqual([]);
    const data = docker(['run', '--rm', '--volume', `${volume}:/data`, '--entrypoint', 'ls', tag, '/data']);
    expect(data.stdout.split('\n')).toContain('portcullis.db');
  }, 240_000);
});
