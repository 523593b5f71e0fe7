// The container image's steps without Docker: the Dockerfile is read as data, its build stage's
// RUN steps (phases of deploy/image-steps.sh) run on a copy of the build context (.dockerignore
// applied), the runtime stage is assembled from its COPY --from=build lines, and its CMD runs
// with its ENV, as the image would: production mode, the database under the /data stand-in,
// HEALTHCHECK's own command until it passes. Then nothing outside /data and /tmp was written.
// Slow: the install compiles better-sqlite3; run once (in the SQLite project).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  buildContextFiles,
  childEnv,
  copyFiles,
  execForm,
  hasCommand,
  killGroup,
  projectFiles,
  readDockerfile,
  root,
  run,
  secondProject,
  snapshot,
  snapshotChanges,
  stage,
  stageEnv,
  start,
  stop,
  waitFor,
  writeSecretFiles,
  type Started,
} from './support.ts';
import { freePort } from '../support/process.ts';

const INSTALL_TIMEOUT_MS = 12 * 60_000;
const STEP = /^sh (\S*deploy\/image-steps\.sh|\S*portcullis-image-steps\.sh) (\w+)(?: && .*)?$/;
const describeOnce = secondProject ? describe.skip : describe;
if (secondProject) console.info('test/deploy/image-steps: runs once, in the sqlite project (it brings its own database)');

const { stages } = readDockerfile();

describe('the Dockerfile', () => {
  test('has a build stage and a runtime stage on one base image argument, and runs as a non-root user', () => {
    expect(stages.map((s) => [s.name, s.from])).toEqual([
      ['build', '${NODE_IMAGE}'],
      ['runtime', '${NODE_IMAGE}'],
    ]);
    const runtime = stage(stages, 'runtime');
    const ops = runtime.instructions.map((i) => i.op);
    expect(runtime.instructions.find((i) => i.op === 'USER')?.args).toBe('portcullis:portcullis');
    expect(runtime.instructions.find((i) => i.op === 'VOLUME')?.args).toBe('/data');
    expect(ops.indexOf('USER')).toBeGreaterThan(ops.lastIndexOf('RUN'));
    expect(stageEnv(runtime)).toMatchObject({ NODE_ENV: 'production' });
    // Left to their defaults: WORKERS (cores), DATABASE_URL (./data, linked to the volume, so DATABASE_URL_FILE can replace it).
    expect(stageEnv(runtime)).not.toHaveProperty('WORKERS');
    expect(stageEnv(runtime)).not.toHaveProperty('DATABASE_URL');
    expect(fs.readFileSync(path.join(root, 'deploy/image-steps.sh'), 'utf8')).toMatch(/^\s*ln -s \/data \/app\/data$/m);
    expect(execForm(runtime.instructions.find((i) => i.op === 'HEALTHCHECK')!.args)).toEqual(['node', 'deploy/healthcheck.mjs']);
    // Every RUN is a phase of deploy/image-steps.sh, so the test below runs the same commands.
    for (const s of stages) for (const i of s.instructions.filter((x) => x.op === 'RUN')) expect(i.args).toMatch(STEP);
  });

  test('.dockerignore keeps out installed and built output, local data, secrets and git, and keeps what the build reads', () => {
    const context = new Set(buildContextFiles(projectFiles()));
    for (const needed of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'deploy/image-steps.sh',
      'deploy/healthcheck.mjs',
    ])
      expect(context.has(needed)).toBe(true);
    expect([...context].some((file) => file.startsWith('src/') && file.endsWith('.ts'))).toBe(true);
    expect([...context].some((file) => file.startsWith('prisma/postgres/migrations/'))).toBe(true);
    expect([...context].filter((file) => /^(node_modules|dist|data|test|bench|secrets|\.git)\//.test(file) || /\.db$/.test(file))).toEqual(
      [],
    );
  });
});

describeOnce("the image's steps run as a script (slow: npm ci compiles better-sqlite3)", () => {
  let work: string;
  let context: string;
  let app: string;
  const results: { phase: string; code: number | null; output: string }[] = [];
  let server: Started | undefined;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-image-'));
    context = path.join(work, 'context');
    copyFiles(buildContextFiles(projectFiles()), context);
    for (const instruction of stage(stages, 'build').instructions.filter((i) => i.op === 'RUN')) {
      const [, , phase = ''] = STEP.exec(instruction.args) ?? [];
      // The toolchain phase would apt-get install on this machine if a tool were missing: run it only where it is a check.
      if (phase === 'toolchain' && !['python3', 'make', 'g++'].every(hasCommand)) {
        console.warn('test/deploy/image-steps: python3, make or g++ is missing here; the toolchain phase (apt-get) is not run');
        continue;
      }
      const result = await run('sh', ['deploy/image-steps.sh', phase], { cwd: context, env: childEnv({}), timeoutMs: INSTALL_TIMEOUT_MS });
      results.push({ phase, ...result });
      if (result.code !== 0) break;
    }
    // The runtime stage: its `user` phase makes a system user (root, and this machine's
    // /etc/passwd), so it is not run here; the COPY --from=build lines are.
    app = path.join(work, 'image', 'app');
    for (const { args } of stage(stages, 'runtime').instructions.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build'))) {
      const [, from = '', to = ''] = /^--from=build\s+\/app\/(\S+)\s+(\S+)$/.exec(args) ?? [];
      fs.mkdirSync(path.dirname(path.join(app, to)), { recursive: true });
      if (fs.existsSync(path.join(context, from)))
        fs.cpSync(path.join(context, from), path.join(app, to), { recursive: true, verbatimSymlinks: true });
    }
  }, INSTALL_TIMEOUT_MS + 120_000);

  afterAll(async () => {
    if (server) {
      await stop(server, 5_000);
      killGroup(server.child); // and any worker left behind
    }
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('every build-stage phase succeeds', () => {
    expect(results.map((r) => ({ phase: r.phase, code: r.code, tail: r.code === 0 ? '' : r.output.slice(-4000) }))).toEqual(
      results.map((r) => ({ phase: r.phase, code: 0, tail: '' })),
    );
    expect(results.map((r) => r.phase)).toContain('install');
  });

  test('the runtime stage gets what it copies, and no devDependency', () => {
    for (const { args } of stage(stages, 'runtime').instructions.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build'))) {
      const [, , to = ''] = /^--from=build\s+\/app\/(\S+)\s+(\S+)$/.exec(args) ?? [];
      expect(fs.existsSync(path.join(app, to))).toBe(true);
    }
    expect(fs.existsSync(path.join(app, 'node_modules', 'jest'))).toBe(false);
    expect(fs.existsSync(path.join(app, 'src'))).toBe(false);
  });

  test("the image's CMD, with its ENV, passes its HEALTHCHECK and writes nothing outside /data and /tmp", async () => {
    const runtime = stage(stages, 'runtime');
    const data = path.join(work, 'data');
    const tmp = path.join(work, 'tmp');
    const home = path.join(work, 'home');
    for (const dir of [data, tmp, home]) fs.mkdirSync(dir, { recursive: true });
    // The `user` phase's link from the app's data directory to the volume, `data` standing for the volume.
    fs.symlinkSync(data, path.join(app, 'data'));
    const imageEnv = stageEnv(runtime);
    const port = await freePort();
    const managementPort = await freePort();
    const env = childEnv({
      ...imageEnv,
      PORT: String(port),
      MANAGEMENT_PORT: String(managementPort),
      ISSUER: `http://localhost:${port}`,
      HOME: home,
      TMPDIR: tmp,
      ...writeSecretFiles(path.join(work, 'secrets')),
    });
    const before = snapshot(path.join(work, 'image'));
    const [command = '', ...args] = execForm(runtime.instructions.find((i) => i.op === 'CMD')!.args);
    expect(command).toBe('node');
    server = start(process.execPath, args, { cwd: app, env });
    const running = server;
    const [checkCommand = '', ...checkArgs] = execForm(runtime.instructions.find((i) => i.op === 'HEALTHCHECK')!.args);
    expect(checkCommand).toBe('node');
    await waitFor(
      async () => (await run(process.execPath, checkArgs, { cwd: app, env, timeoutMs: 10_000 })).code === 0,
      90_000,
      () => running.output().slice(-4000),
    );
    const discovery = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    expect(((await discovery.json()) as { issuer: string }).issuer).toBe(`http://localhost:${port}`);
    expect(running.output()).toMatch(/"level":30/); // JSON lines in production

    const exit = await stop(running);
    expect({ ...exit, output: exit.code === 0 ? '' : running.output().slice(-4000) }).toEqual({ code: 0, signal: null, output: '' });
    expect(snapshotChanges(before, snapshot(path.join(work, 'image')))).toEqual([]);
    expect(fs.readdirSync(home)).toEqual([]);
    expect(fs.readdirSync(data)).toContain('portcullis.db');
  }, 150_000);
});
