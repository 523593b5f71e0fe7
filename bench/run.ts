// `npm run bench`: Portcullis's throughput and latency per scenario, against a production build
// started for the run, next to the ceiling (bare oidc-provider, in-memory, same key type).
// Writes bench/RESULTS.md and bench/results.json. Talks only to 127.0.0.1; bounded in time.
//
//   npm run bench                          SQLite, 8 s per scenario
//   BENCH_DATABASE_URL=postgresql://… npm run bench   also PostgreSQL
//   node --import tsx bench/run.ts --seconds 1 --connections 2 --out /tmp/x   (the smoke run the tests do)
//
// Flags: --seconds (8), --rounds (4), --connections (16), --out (bench/), --only (every scenario).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import * as client from 'openid-client';
import { benchTarget, cli, logInWithCode, root, scratchSqlite, startPortcullis, startProcess, stopProcess } from './support.ts';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '16' },
    out: { type: 'string', default: path.join(root, 'bench') },
    only: { type: 'string', default: '' },
  },
});

/** A flag that must be a positive number. */
function positive(name: keyof typeof flags, text: string): number {
  const value = Number(text);
  if (!(value > 0)) throw new Error(`--${name} must be a positive number, not ${JSON.stringify(text)}`);
  return value;
}

const SECONDS = positive('seconds', flags.seconds);
/** Alternating rounds (Portcullis, ceiling) that share a scenario's seconds when the ceiling serves it too. */
const ROUNDS = positive('rounds', flags.rounds);
const CONNECTIONS = positive('connections', flags.connections);
const OUT = path.resolve(flags.out);
/** Only the scenarios whose names contain this text (for profiling one); all by default. */
const ONLY = flags.only;
/** Extra Node options for the Portcullis server, e.g. `--cpu-prof --cpu-prof-dir /tmp/prof`. */
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** The same for the ceiling, to profile it alongside. */
const CEILING_NODE_ARGS = (process.env.BENCH_CEILING_NODE_ARGS ?? '').split(' ').filter(Boolean);
const REDIRECT = 'http://127.0.0.1:9/callback';

interface Measure {
  scenario: string;
  database: string;
  target: 'portcullis' | 'ceiling';
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  peakRssMb: number;
  /** The server process's CPU time (user + system) per request, in microseconds. */
  cpuUsPerRequest: number;
  /** The same for the main thread alone: JavaScript runs there, so it bounds what one process can serve. */
  mainThreadUsPerRequest: number;
  /** For scenarios the ceiling serves: its requests/s in the same rounds, and the median ratio of the rounds. */
  ceilingRps?: number;
  ratio?: number;
}

/** A measure without its labels: what observing one server under one load gives. */
type Observed = Omit<Measure, 'scenario' | 'database' | 'target'>;

/** What one scenario's load gave, before the server's memory and CPU are added. */
type Load = Pick<Measure, 'rps' | 'p50' | 'p99' | 'errors'> & { requests: number };

/** Linux's USER_HZ: the unit of the CPU times in /proc/<pid>/stat. */
const CLOCK_TICKS = 100;

/** CPU time (user + system) used so far, in microseconds, by the process or by its main thread (Linux /proc). */
function cpuMicros(pid: number, mainThreadOnly = false): number {
  const file = mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`;
  const fields = fs.readFileSync(file, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}

/** Runs `work` while sampling the server's resident memory; adds its peak and CPU per request. */
async function observe(pid: number, work: () => Promise<Load>): Promise<Observed> {
  let peak = 0;
  const sample = () => {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    peak = Math.max(peak, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
  };
  sample();
  const timer = setInterval(sample, 100);
  try {
    const cpuBefore = cpuMicros(pid);
    const mainBefore = cpuMicros(pid, true);
    const { requests, ...result } = await work();
    const cpu = cpuMicros(pid) - cpuBefore;
    const main = cpuMicros(pid, true) - mainBefore;
    sample();
    const perRequest = (micros: number) => (requests ? Math.round(micros / requests) : 0);
    return { ...result, peakRssMb: Math.round(peak / 1024), cpuUsPerRequest: perRequest(cpu), mainThreadUsPerRequest: perRequest(main) };
  } finally {
    clearInterval(timer);
  }
}

async function load(options: autocannon.Options, expected = 200): Promise<Load> {
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
  const statuses = (result as unknown as { statusCodeStats?: Record<string, { count: number }> }).statusCodeStats ?? {};
  const unexpected = Object.entries(statuses).reduce((sum, [status, { count }]) => sum + (Number(status) === expected ? 0 : count), 0);
  if (process.env.BENCH_DEBUG) console.log(JSON.stringify(statuses));
  return {
    rps: Math.round(result.requests.average),
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + unexpected,
  };
}

/** Runs `work` in `workers` parallel loops for the scenario's duration; for flows autocannon cannot chain. */
async function loop(workers: number, work: (worker: number) => Promise<unknown>): Promise<Load> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      while (Date.now() < deadline) {
        const started = performance.now();
        try {
          await work(worker);
          latencies.push(performance.now() - started);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 10) / 10;
  return { rps: Math.round((latencies.length / SECONDS) * 10) / 10, p50: at(0.5), p99: at(0.99), errors, requests: latencies.length };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const formHeaders = (authorization: string) => ({ authorization, 'content-type': 'application/x-www-form-urlencoded' });

async function benchPortcullis(databaseUrl: string, label: string, ceiling: Ceiling): Promise<Measure[]> {
  const target = await benchTarget(databaseUrl);
  const { url, env } = target;
  const audience = 'https://bench.example.com';
  await cli(env, ['migrate']);
  // Its log goes nowhere, so the load generator does not read it (or, to look into an error, is
  // appended to the file BENCH_SERVER_LOG names).
  const log = process.env.BENCH_SERVER_LOG ? fs.openSync(`${process.env.BENCH_SERVER_LOG}.${label}`, 'a') : 'ignore';
  const child = await startPortcullis(target, { nodeArgs: SERVER_NODE_ARGS, log });
  const measures: Measure[] = [];
  const record = async (scenario: string, work: () => Promise<Load>) => {
    if (!scenario.includes(ONLY)) return;
    const result = await observe(child.pid!, work);
    measures.push({ scenario, database: label, target: 'portcullis', ...result });
    console.log(
      `${label} ${scenario}: ${result.rps}/s p50 ${result.p50} ms p99 ${result.p99} ms errors ${result.errors} cpu ${result.cpuUsPerRequest} µs/request (main thread ${result.mainThreadUsPerRequest})`,
    );
  };
  /** A scenario the ceiling serves too: measured against it in alternating rounds. */
  const compare = async (scenario: string, work: (seconds: number) => Promise<Load>) => {
    if (!scenario.includes(ONLY)) return;
    const result = await paired({ pid: child.pid!, load: work }, { pid: ceiling.pid, load: ceiling.loads[scenario]! });
    measures.push({ scenario, database: label, target: 'ceiling', ...result.ceiling });
    measures.push({
      scenario,
      database: label,
      target: 'portcullis',
      ...result.portcullis,
      ceilingRps: result.ceiling.rps,
      ratio: result.ratio,
    });
    console.log(
      `${label} ${scenario}: ${result.portcullis.rps}/s p50 ${result.portcullis.p50} ms p99 ${result.portcullis.p99} ms errors ${result.portcullis.errors} cpu ${result.portcullis.cpuUsPerRequest} µs/request (main thread ${result.portcullis.mainThreadUsPerRequest}); ceiling ${result.ceiling.rps}/s, cpu ${result.ceiling.cpuUsPerRequest} (main thread ${result.ceiling.mainThreadUsPerRequest}), ratio ${result.ratio.toFixed(2)}`,
    );
  };
  try {
    await cli(env, ['resource', 'create', '--audience', audience, '--scope', 'read']);
    const service = await cli(env, ['client', 'create', '--name', 'bench', '--grant', 'client_credentials', '--scope', 'read admin:read']);
    const exchanger = await cli(env, [
      'client',
      'create',
      '--name',
      'exchanger',
      '--grant',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      '--scope',
      'read',
    ]);
    const app = await cli(env, [
      'client',
      'create',
      '--name',
      'app',
      '--grant',
      'authorization_code',
      '--grant',
      'refresh_token',
      '--redirect-uri',
      REDIRECT,
    ]);
    await cli(env, ['user', 'create', '--email', 'bench@example.com', '--password-stdin'], 'benchmark passphrase');
    const { key } = await cli(env, ['apikey', 'create', '--name', 'bench', '--scope', 'read', '--audience', audience]);
    const auth = basic(service.client_id!, service.client_secret!);
    const ccBody = `grant_type=client_credentials&resource=${encodeURIComponent(audience)}`;
    const opaque = (
      (await (
        await fetch(`${url}/token`, { method: 'POST', headers: formHeaders(auth), body: 'grant_type=client_credentials' })
      ).json()) as { access_token: string }
    ).access_token;
    const admin = (
      (await (
        await fetch(`${url}/token`, {
          method: 'POST',
          headers: formHeaders(auth),
          body: `grant_type=client_credentials&resource=${encodeURIComponent(`${url}/admin`)}`,
        })
      ).json()) as { access_token: string }
    ).access_token;
    const etag = (await fetch(`${url}/jwks`)).headers.get('etag')!;

    // Warm up (JIT, connection pools, caches) before anything is recorded, as for the ceiling.
    await load({ url: `${url}/token`, method: 'POST', headers: formHeaders(auth), body: ccBody, duration: Math.min(3, SECONDS) });
    const ours = comparedLoads(url, auth, ccBody, opaque);
    await compare('client credentials (JWT)', ours['client credentials (JWT)']!);
    await compare('introspection (opaque token)', ours['introspection (opaque token)']!);
    await record('introspection (API key)', () =>
      load({ url: `${url}/token/introspection`, method: 'POST', headers: formHeaders(auth), body: `token=${key}` }),
    );
    await record('API key exchange (JWT)', () =>
      load({
        url: `${url}/token`,
        method: 'POST',
        headers: formHeaders(basic(exchanger.client_id!, exchanger.client_secret!)),
        body: `grant_type=${encodeURIComponent('urn:ietf:params:oauth:grant-type:token-exchange')}&subject_token=${key}&subject_token_type=${encodeURIComponent('urn:portcullis:params:oauth:token-type:api_key')}&resource=${encodeURIComponent(audience)}`,
      }),
    );
    await compare('JWKS', ours.JWKS!);
    await record('JWKS (If-None-Match, 304)', () => load({ url: `${url}/jwks`, headers: { 'if-none-match': etag } }, 304));
    await record('admin list clients', () => load({ url: `${url}/admin/clients`, headers: { authorization: `Bearer ${admin}` } }));

    // Refresh-token rotation: each connection follows its own chain of refresh tokens.
    const config = await client.discovery(new URL(url), app.client_id!, app.client_secret!, undefined, {
      execute: [client.allowInsecureRequests],
    });
    const login = async () => {
      const tokens = await logInWithCode(
        config,
        { scope: 'openid offline_access', prompt: 'consent' },
        { email: 'bench@example.com', password: 'benchmark passphrase', redirectUri: REDIRECT },
      );
      return tokens.refresh_token!;
    };
    // Each worker follows its own chain: every refresh token is used once, as a client would.
    const chains = await Promise.all(Array.from({ length: CONNECTIONS }, login));
    await record('refresh-token rotation', () =>
      loop(CONNECTIONS, async (worker) => {
        const response = await fetch(`${url}/token`, {
          method: 'POST',
          headers: formHeaders(basic(app.client_id!, app.client_secret!)),
          body: `grant_type=refresh_token&refresh_token=${chains[worker]}`,
        });
        if (response.status !== 200) throw new Error(String(response.status));
        chains[worker] = ((await response.json()) as { refresh_token: string }).refresh_token;
      }),
    );

    // Whole authorization-code flows (login page, password, consent, code exchange) per second.
    await record('authorization-code flow (login + consent + exchange)', () => loop(Math.min(CONNECTIONS, 4), login));
  } finally {
    await stopProcess(child);
    if (typeof log === 'number') fs.closeSync(log);
  }
  return measures;
}

/** Scenario name → a load of the given length in seconds. */
type Loads = Record<string, (seconds: number) => Promise<Load>>;

/** The scenarios Portcullis and the ceiling both serve, as loads on the server at `url`. */
function comparedLoads(url: string, auth: string, ccBody: string, opaque: string): Loads {
  return {
    'client credentials (JWT)': (duration) =>
      load({ url: `${url}/token`, method: 'POST', headers: formHeaders(auth), body: ccBody, duration }),
    'introspection (opaque token)': (duration) =>
      load({ url: `${url}/token/introspection`, method: 'POST', headers: formHeaders(auth), body: `token=${opaque}`, duration }),
    JWKS: (duration) => load({ url: `${url}/jwks`, duration }),
  };
}

interface Ceiling {
  pid: number;
  loads: Loads;
  stop(): Promise<void>;
}

/** Starts the ceiling (bench/ceiling.ts) and warms it up; it runs beside Portcullis for the whole run. */
async function startCeiling(): Promise<Ceiling> {
  const { child, line } = await startProcess([...CEILING_NODE_ARGS, '--import', 'tsx', path.join(root, 'bench/ceiling.ts')]);
  const { url, client_id, client_secret, audience } = JSON.parse(line) as Record<string, string>;
  const auth = basic(client_id!, client_secret!);
  const opaque = (
    (await (
      await fetch(`${url}/token`, { method: 'POST', headers: formHeaders(auth), body: 'grant_type=client_credentials&scope=read' })
    ).json()) as { access_token: string }
  ).access_token;
  const loads = comparedLoads(url!, auth, `grant_type=client_credentials&resource=${encodeURIComponent(audience!)}`, opaque);
  await loads['client credentials (JWT)']!(Math.min(3, SECONDS));
  return {
    pid: child.pid!,
    loads,
    stop: () => stopProcess(child),
  };
}

/** The middle value (the upper one of an even count). */
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/**
 * Measures a scenario on Portcullis and on the ceiling in alternating rounds, so that both see
 * the same machine: on a shared or throttled machine speed drifts by tens of percent within a
 * minute, and a ratio of two runs made a minute apart would measure the drift. Reports the
 * median round of each, and the median of the rounds' ratios.
 */
async function paired(
  portcullis: { pid: number; load: (seconds: number) => Promise<Load> },
  ceiling: { pid: number; load: (seconds: number) => Promise<Load> },
): Promise<{
  portcullis: Observed;
  ceiling: Observed;
  ratio: number;
}> {
  const rounds = Math.max(1, Math.min(ROUNDS, Math.floor(SECONDS)));
  const seconds = SECONDS / rounds;
  const ours: Observed[] = [];
  const theirs: Observed[] = [];
  for (let round = 0; round < rounds; round += 1) {
    theirs.push(await observe(ceiling.pid, () => ceiling.load(seconds)));
    ours.push(await observe(portcullis.pid, () => portcullis.load(seconds)));
  }
  const combine = (all: Observed[]) => ({
    rps: median(all.map((m) => m.rps)),
    p50: median(all.map((m) => m.p50)),
    p99: median(all.map((m) => m.p99)),
    errors: all.reduce((sum, m) => sum + m.errors, 0),
    peakRssMb: Math.max(...all.map((m) => m.peakRssMb)),
    cpuUsPerRequest: median(all.map((m) => m.cpuUsPerRequest)),
    mainThreadUsPerRequest: median(all.map((m) => m.mainThreadUsPerRequest)),
  });
  return { portcullis: combine(ours), ceiling: combine(theirs), ratio: median(ours.map((m, i) => m.rps / Math.max(1, theirs[i]!.rps))) };
}

function report(measures: Measure[]): string {
  const ceilingOf = (m: Measure) =>
    measures.find(
      (c) => c.target === 'ceiling' && c.database === m.database && c.scenario === m.scenario.replace(' (If-None-Match, 304)', ''),
    );
  const rows = measures
    .filter((m) => m.target === 'portcullis')
    .map((m) => {
      const base = m.ceilingRps ?? ceilingOf(m)?.rps;
      const ratio = m.ratio ?? (base ? m.rps / base : undefined);
      return `| ${m.scenario} | ${m.database} | ${m.rps} | ${m.p50} | ${m.p99} | ${m.errors} | ${m.cpuUsPerRequest} | ${m.mainThreadUsPerRequest} | ${m.peakRssMb} | ${base ? `${base} | ${ratio!.toFixed(2)}` : '– | –'} |`;
    });
  const ceilingRows = measures
    .filter((m) => m.target === 'ceiling')
    .map(
      (m) =>
        `| ${m.scenario} | ${m.database} | ${m.rps} | ${m.p50} | ${m.p99} | ${m.errors} | ${m.cpuUsPerRequest} | ${m.mainThreadUsPerRequest} | ${m.peakRssMb} |`,
    );
  return [
    '# Benchmark results',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${SECONDS} s per scenario, ${CONNECTIONS} connections (4 for whole login flows), load generator on the same machine. Made by \`npm run bench\`.`,
    '',
    `Scenarios the ceiling serves too are measured in ${Math.max(1, Math.min(ROUNDS, Math.floor(SECONDS)))} alternating rounds (ceiling, Portcullis), sharing the scenario's seconds; the figures are the median round, and the ratio is the median of the rounds' ratios. "CPU µs/request" is the server process's CPU time (user + system, all threads) divided by the requests it answered; "main thread" is the same for the thread that runs JavaScript, which bounds what one process can serve.`,
    '',
    '| scenario | database | requests/s | p50 ms | p99 ms | errors | CPU µs/request | main thread µs/request | peak RSS MB | ceiling requests/s | ratio to ceiling |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    "The ceiling: bare oidc-provider 9 with its in-memory adapter and an ES256 key, same machine, same load, measured in the rounds alongside each database's run.",
    '',
    '| ceiling scenario | alongside | requests/s | p50 ms | p99 ms | errors | CPU µs/request | main thread µs/request | peak RSS MB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...ceilingRows,
    '',
  ].join('\n');
}

const measures: Measure[] = [];
const ceiling = await startCeiling();
const sqlite = scratchSqlite();
try {
  measures.push(...(await benchPortcullis(sqlite.url, 'sqlite', ceiling)));
  if (process.env.BENCH_DATABASE_URL) measures.push(...(await benchPortcullis(process.env.BENCH_DATABASE_URL, 'postgres', ceiling)));
} finally {
  await ceiling.stop();
  sqlite.remove();
}
fs.mkdirSync(OUT, { recursive: true });
const existingNotes = fs.existsSync(path.join(OUT, 'NOTES.md')) ? `\n${fs.readFileSync(path.join(OUT, 'NOTES.md'), 'utf8')}` : '';
fs.writeFileSync(path.join(OUT, 'RESULTS.md'), report(measures) + existingNotes);
fs.writeFileSync(
  path.join(OUT, 'results.json'),
  `${JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, seconds: SECONDS, connections: CONNECTIONS, measures }, null, 2)}\n`,
);
console.log(`wrote ${path.join(OUT, 'RESULTS.md')}`);
