// A smoke run of the benchmark harness (one second per scenario, one cold start, a two-second
// soak) so it cannot rot. It asserts that every scenario ran without errors and the reports were
// written, never how fast anything was: speed is measured by `npm run bench`, not asserted by tests.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

test('npm run bench runs every scenario and writes RESULTS.md and results.json', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-smoke-'));
  const { NODE_OPTIONS: _ignored, BENCH_DATABASE_URL: _none, ...env } = process.env;
  try {
    // The harness runs the production build; make sure it is the current one. Only the compiler:
    // `prisma generate` would rewrite src/generated while other test files are loading it.
    const build = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(build.status).toBe(0);
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--seconds', '1', '--connections', '2', '--starts', '1', '--out', out],
      {
        cwd: root,
        env,
        encoding: 'utf8',
        timeout: 180_000,
      },
    );
    expect(run.status).toBe(0);
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      cpus: number;
      measures: { scenario: string; target: string; errors: number; rps: number }[];
      workers: { scenario: string; workers: number; errors: number; rps: number }[];
      coldStarts: { serveMs: number[]; cliMs: number[] }[];
    };
    expect(results.cpus).toBe(os.cpus().length);
    const scenarios = results.measures.filter((m) => m.target === 'portcullis').map((m) => m.scenario);
    expect(scenarios).toEqual([
      'client credentials (JWT)',
      'client credentials (JWT, rbac)',
      'introspection (opaque token)',
      'introspection (API key)',
      'API key exchange (JWT)',
      'JWKS',
      'JWKS (If-None-Match, 304)',
      'admin list clients',
      'refresh-token rotation',
      'authorization-code flow (login + consent + exchange)',
    ]);
    expect(results.measures.filter((m) => m.target === 'ceiling')).toHaveLength(3);
    for (const measure of results.measures) {
      expect([measure.scenario, measure.errors]).toEqual([measure.scenario, 0]);
      expect(measure.rps).toBeGreaterThan(0);
    }
    // A cold start and a CLI run were timed, and the one- and two-worker scenarios ran without errors.
    expect(results.coldStarts).toHaveLength(1);
    expect(results.coldStarts[0]!.serveMs).toHaveLength(1);
    expect(results.coldStarts[0]!.cliMs).toHaveLength(1);
    expect(new Set(results.workers.map((m) => m.workers))).toEqual(new Set([1, 2]));
    for (const measure of results.workers)
      expect([measure.scenario, measure.workers, measure.errors]).toEqual([measure.scenario, measure.workers, 0]);

    // The soak runs on its own (npm run bench -- --soak) and adds its section to the same report.
    const soak = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--soak', '--soak-seconds', '2', '--connections', '2', '--out', out],
      { cwd: root, env, encoding: 'utf8', timeout: 120_000 },
    );
    expect(soak.status).toBe(0);
    const soakResult = JSON.parse(fs.readFileSync(path.join(out, 'soak.json'), 'utf8')) as { errors: number; rps: number; rssMb: number[] };
    expect(soakResult.errors).toBe(0);
    expect(soakResult.rps).toBeGreaterThan(0);
    expect(soakResult.rssMb.length).toBeGreaterThan(0);
    const report = fs.readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
    expect(report).toContain('| scenario | database | requests/s |');
    expect(report).toContain('## Cold start');
    expect(report).toContain('## One worker and two');
    expect(report).toContain('## Soak');
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}, 420_000);
