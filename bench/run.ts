// `npm run bench`: Portcullis's throughput and latency per scenario, against a production build
// started for the run, next to the ceiling (bare oidc-provider, in-memory, same key type).
// Writes bench/RESULTS.md and bench/results.json (the soak: bench/soak.json). Talks only to 127.0.0.1; bounded in time.
//
//   npm run bench                          SQLite, 8 s per scenario
//   BENCH_DATABASE_URL=postgresql://… npm run bench   also PostgreSQL
//   node --import tsx bench/run.ts --seconds 1 --connections 2 --out /tmp/x   (the smoke run the tests do)
//   npm run bench -- --soak                 the soak instead: 10 minutes at 80% of the peak of a mix
//
// Flags: --seconds (8), --rounds (4), --connections (16), --out (bench/), --only (every scenario;
// `--only "cold start"`, `--only workers` or `--only "workers: refresh"` for those parts),
// --starts (5 cold starts and CLI runs), --soak, --soak-seconds (600).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import * as client from 'openid-client';
import { measureColdStarts, type ColdStart } from './coldStart.ts';
import { loadOf, loop, median, observe, processTree, type Load, type Observed } from './measure.ts';
import { writeJson, writeReport, type Measure, type Results, type WorkersMeasure } from './report.ts';
import { refreshRequest, soak, type SoakResult } from './soak.ts';
import {
  benchTarget,
  cli,
  logInWithCode,
  root,
  scratchSqlite,
  startPortcullis,
  startProcess,
  stopProcess,
  type BenchTarget,
} from './support.ts';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '16' },
    out: { type: 'string', default: path.join(root, 'bench') },
    only: { type: 'string', default: '' },
    starts: { type: 'string', default: '5' },
    soak: { type: 'boolean', default: false },
    'soak-seconds': { type: 'string', default: '600' },
  },
});

/** A flag that must be a positive number. */
function positive(name: string, text: string): number {
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
/** Cold starts of the server, and runs of a CLI command, to take the median of. */
const STARTS = positive('starts', flags.starts);
const SOAK_SECONDS = positive('soak-seconds', flags['soak-seconds']);
/** Extra Node options for the Portcullis server, e.g. `--cpu-prof --cpu-prof-dir /tmp/prof`. */
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** The same for the ceiling, to profile it alongside. */
const CEILING_NODE_ARGS = (process.env.BENCH_CEILING_NODE_ARGS ?? '').split(' ').filter(Boolean);
const REDIRECT = 'http://127.0.0.1:9/callback';

async function load(options: autocannon.Options, expected = 200): Promise<Load> {
  return loadOf(await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options }), expected);
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const formHeaders = (authorization: string) => ({ authorization, 'content-type': 'application/x-www-form-urlencoded' });

/** What the harness makes in a fresh database through the CLI, before any server runs. */
interface Provisioned {
  audience: string;
  /** An API with rbac and the roles claim, whose scope the service holds through a role. */
  rbacAudience: string;
  service: Record<string, string>;
  exchanger: Record<string, string>;
  app: Record<string, string>;
  apiKey: string;
}

async function provision(env: Record<string, string>): Promise<Provisioned> {
  const audience = 'https://bench.example.com';
  await cli(env, ['migrate']);
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
  const rbacAudience = 'https://bench-rbac.example.com';
  await cli(env, ['resource', 'create', '--audience', rbacAudience, '--scope', 'read', '--rbac', '--roles-claim']);
  await cli(env, ['role', 'create', 'bench-reader', '--permission', `${rbacAudience}:read`]);
  await cli(env, ['role', 'assign', 'bench-reader', '--client', service.client_id!]);
  return { audience, rbacAudience, service, exchanger, app, apiKey: key! };
}

/** The token requests and values every run of scenarios on one database shares. */
interface Session {
  url: string;
  auth: string;
  appAuth: string;
  ccBody: string;
  opaque: string;
  app: Record<string, string>;
  /** The newest token of each refresh-token chain not in use: the pool the refreshes take from and put back into. */
  chains: string[];
}

async function accessToken(url: string, auth: string, body: string): Promise<string> {
  const response = await fetch(`${url}/token`, { method: 'POST', headers: formHeaders(auth), body });
  if (response.status !== 200) throw new Error(`token request: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** A whole login of the bench person to the app (authorization code, consent, exchange); resolves with the refresh token. */
async function loginTo(url: string, app: Record<string, string>): Promise<() => Promise<string>> {
  const config = await client.discovery(new URL(url), app.client_id!, app.client_secret!, undefined, {
    execute: [client.allowInsecureRequests],
  });
  return async () =>
    (
      await logInWithCode(
        config,
        { scope: 'openid offline_access', prompt: 'consent' },
        { email: 'bench@example.com', password: 'benchmark passphrase', redirectUri: REDIRECT },
      )
    ).refresh_token!;
}

/** Logs the bench person in to the app `count` times (each a refresh-token chain). */
async function refreshChains(url: string, app: Record<string, string>, count: number): Promise<string[]> {
  const login = await loginTo(url, app);
  return Promise.all(Array.from({ length: count }, login));
}

async function openSession(url: string, provisioned: Provisioned): Promise<Session> {
  const auth = basic(provisioned.service.client_id!, provisioned.service.client_secret!);
  return {
    url,
    auth,
    appAuth: basic(provisioned.app.client_id!, provisioned.app.client_secret!),
    app: provisioned.app,
    ccBody: `grant_type=client_credentials&resource=${encodeURIComponent(provisioned.audience)}`,
    opaque: await accessToken(url, auth, 'grant_type=client_credentials'),
    // Two per connection: a run that stops with a refresh in flight loses that chain.
    chains: await refreshChains(url, provisioned.app, 2 * CONNECTIONS),
  };
}

/**
 * Refresh-token rotation: every token used once, as a client would, each connection refreshing
 * one chain at a time (bench/soak.ts, refreshRequest). A run that stops with refreshes in flight
 * loses those chains, so the pool is topped up with logins before each run.
 */
async function rotateRefreshTokens(session: Session): Promise<Load> {
  const wanted = 2 * CONNECTIONS;
  if (session.chains.length < wanted)
    session.chains.push(...(await refreshChains(session.url, session.app, wanted - session.chains.length)));
  return load({ url: session.url, requests: [refreshRequest(session.appAuth, session.chains)] });
}

/** Its log goes nowhere, so the load generator does not read it (or, to look into an error, is appended to the file BENCH_SERVER_LOG names). */
function serverLog(label: string): 'ignore' | number {
  return process.env.BENCH_SERVER_LOG ? fs.openSync(`${process.env.BENCH_SERVER_LOG}.${label}`, 'a') : 'ignore';
}

interface DatabaseRun {
  measures: Measure[];
  workers: WorkersMeasure[];
  coldStart?: ColdStart;
}

async function benchPortcullis(databaseUrl: string, label: string, ceiling: Ceiling): Promise<DatabaseRun> {
  const target = await benchTarget(databaseUrl);
  const { url } = target;
  const provisioned = await provision(target.env);
  const log = serverLog(label);
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
  let session: Session;
  try {
    session = await openSession(url, provisioned);
    const { auth, ccBody } = session;
    const admin = await accessToken(url, auth, `grant_type=client_credentials&resource=${encodeURIComponent(`${url}/admin`)}`);
    const etag = (await fetch(`${url}/jwks`)).headers.get('etag')!;

    // Warm up (JIT, connection pools, caches) before anything is recorded, as for the ceiling.
    await load({ url: `${url}/token`, method: 'POST', headers: formHeaders(auth), body: ccBody, duration: Math.min(3, SECONDS) });
    const ours = comparedLoads(url, auth, ccBody, session.opaque);
    await compare('client credentials (JWT)', ours['client credentials (JWT)']!);
    // The same grant for an API whose scopes come through roles (a cached lookup of the client's roles, the roles claim).
    await record('client credentials (JWT, rbac)', () =>
      load({
        url: `${url}/token`,
        method: 'POST',
        headers: formHeaders(auth),
        body: `grant_type=client_credentials&resource=${encodeURIComponent(provisioned.rbacAudience)}`,
      }),
    );
    await compare('introspection (opaque token)', ours['introspection (opaque token)']!);
    await record('introspection (API key)', () =>
      load({ url: `${url}/token/introspection`, method: 'POST', headers: formHeaders(auth), body: `token=${provisioned.apiKey}` }),
    );
    await record('API key exchange (JWT)', () =>
      load({
        url: `${url}/token`,
        method: 'POST',
        headers: formHeaders(basic(provisioned.exchanger.client_id!, provisioned.exchanger.client_secret!)),
        body: `grant_type=${encodeURIComponent('urn:ietf:params:oauth:grant-type:token-exchange')}&subject_token=${provisioned.apiKey}&subject_token_type=${encodeURIComponent('urn:portcullis:params:oauth:token-type:api_key')}&resource=${encodeURIComponent(provisioned.audience)}`,
      }),
    );
    await compare('JWKS', ours.JWKS!);
    await record('JWKS (If-None-Match, 304)', () => load({ url: `${url}/jwks`, headers: { 'if-none-match': etag } }, 304));
    await record('admin list clients', () => load({ url: `${url}/admin/clients`, headers: { authorization: `Bearer ${admin}` } }));
    await record('refresh-token rotation', () => rotateRefreshTokens(session));

    // Whole authorization-code flows (login page, password, consent, code exchange) per second.
    const login = await loginTo(url, provisioned.app);
    await record('authorization-code flow (login + consent + exchange)', () => loop(Math.min(CONNECTIONS, 4), SECONDS, login));
  } finally {
    await stopProcess(child);
    if (typeof log === 'number') fs.closeSync(log);
  }
  // The database now holds what a day of traffic leaves (tokens, grants, sessions): what a restart finds.
  const coldStart = ONLY === '' || 'cold start'.includes(ONLY) ? await measureColdStarts(target, label, STARTS) : undefined;
  if (coldStart) {
    console.log(
      `${label} cold start to discovery: median ${coldStart.serveMedianMs} ms (${coldStart.serveMs.join(', ')}); client list --json: median ${coldStart.cliMedianMs} ms (${coldStart.cliMs.join(', ')})`,
    );
  }
  const workers = await benchWorkers(target, label, session);
  return { measures, workers, coldStart };
}

/** The scenarios run on 1 and then on 2 worker processes (WORKERS), to show what a second process buys. */
const WORKER_COUNTS = [1, 2];
const WORKER_SCENARIOS = ['client credentials (JWT)', 'introspection (opaque token)', 'introspection (API key)', 'refresh-token rotation'];

async function benchWorkers(target: BenchTarget, label: string, session: Session): Promise<WorkersMeasure[]> {
  // Named `workers: <scenario>` for --only, and run only when asked for by that name (or with everything).
  const scenarios = WORKER_SCENARIOS.filter(
    (scenario) => ONLY === '' || (ONLY.startsWith('workers') && `workers: ${scenario}`.includes(ONLY)),
  );
  if (!scenarios.length) return [];
  const { url, auth, ccBody, opaque } = session;
  const apiKey = (await cli(target.env, ['apikey', 'create', '--name', `workers ${label}`, '--scope', 'read'])).key!;
  const loads: Record<string, () => Promise<Load>> = {
    'client credentials (JWT)': () => load({ url: `${url}/token`, method: 'POST', headers: formHeaders(auth), body: ccBody }),
    'introspection (opaque token)': () =>
      load({ url: `${url}/token/introspection`, method: 'POST', headers: formHeaders(auth), body: `token=${opaque}` }),
    'introspection (API key)': () =>
      load({ url: `${url}/token/introspection`, method: 'POST', headers: formHeaders(auth), body: `token=${apiKey}` }),
    'refresh-token rotation': () => rotateRefreshTokens(session),
  };
  const measures: WorkersMeasure[] = [];
  for (const workers of WORKER_COUNTS) {
    const log = serverLog(`${label}.workers-${workers}`);
    const child = await startPortcullis(target, { nodeArgs: SERVER_NODE_ARGS, log, env: { WORKERS: String(workers) } });
    try {
      const processes = processTree(child.pid!).length;
      // A build without WORKERS serves in one process whatever is asked: nothing to compare.
      if (workers > 1 && processes < workers + 1) {
        console.log(`${label} workers: WORKERS=${workers} gave ${processes} process(es); this build has no cluster, skipped`);
        break;
      }
      await load({ url: `${url}/token`, method: 'POST', headers: formHeaders(auth), body: ccBody, duration: Math.min(3, SECONDS) });
      for (const scenario of scenarios) {
        const result = await observe(child.pid!, loads[scenario]!);
        measures.push({ scenario, database: label, workers, ...result });
        console.log(
          `${label} ${workers} worker(s) ${scenario}: ${result.rps}/s p99 ${result.p99} ms errors ${result.errors} cpu ${result.cpuUsPerRequest} µs/request (main threads ${result.mainThreadUsPerRequest}) RSS ${result.peakRssMb} MB`,
        );
      }
    } finally {
      await stopProcess(child);
      if (typeof log === 'number') fs.closeSync(log);
    }
  }
  return measures;
}

/** `--soak`: one server on SQLite (or BENCH_DATABASE_URL), the peak of the mix, then 80% of it for --soak-seconds. */
async function runSoak(): Promise<SoakResult> {
  const sqlite = scratchSqlite();
  const databaseUrl = process.env.BENCH_DATABASE_URL ?? sqlite.url;
  const label = process.env.BENCH_DATABASE_URL ? 'postgres' : 'sqlite';
  try {
    const target = await benchTarget(databaseUrl);
    const provisioned = await provision(target.env);
    const log = serverLog(`${label}.soak`);
    const child = await startPortcullis(target, { nodeArgs: SERVER_NODE_ARGS, log });
    try {
      const session = await openSession(target.url, provisioned);
      const inputs = {
        url: target.url,
        serviceAuth: session.auth,
        ccBody: session.ccBody,
        opaqueToken: session.opaque,
        apiKey: provisioned.apiKey,
        appAuth: session.appAuth,
        refreshTokens: session.chains,
      };
      await load({ url: `${target.url}/token`, method: 'POST', headers: formHeaders(session.auth), body: session.ccBody, duration: 3 });
      const result = await soak(child.pid!, label, inputs, {
        seconds: SOAK_SECONDS,
        peakSeconds: Math.min(10, SOAK_SECONDS),
        connections: CONNECTIONS,
      });
      console.log(
        `${label} soak: ${result.rps}/s (target ${result.targetRps}) p99 ${result.p99} ms errors ${result.errors} main thread ${result.mainThreadUsPerRequest} µs/request; RSS ${result.rssMb[Math.min(60, Math.floor(result.rssMb.length / 5))]} → ${result.rssMb.at(-1)} MB (${result.rssGrowthPercent} %)`,
      );
      return result;
    } finally {
      await stopProcess(child);
      if (typeof log === 'number') fs.closeSync(log);
    }
  } finally {
    sqlite.remove();
  }
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

fs.mkdirSync(OUT, { recursive: true });
const notes = path.join(OUT, 'NOTES.md');
if (flags.soak) {
  const result = await runSoak();
  await writeJson(path.join(OUT, 'soak.json'), { date: new Date().toISOString(), node: process.version, ...result });
} else {
  const runs: DatabaseRun[] = [];
  const ceiling = await startCeiling();
  const sqlite = scratchSqlite();
  try {
    runs.push(await benchPortcullis(sqlite.url, 'sqlite', ceiling));
    if (process.env.BENCH_DATABASE_URL) runs.push(await benchPortcullis(process.env.BENCH_DATABASE_URL, 'postgres', ceiling));
  } finally {
    await ceiling.stop();
    sqlite.remove();
  }
  const results: Results = {
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    seconds: SECONDS,
    rounds: Math.max(1, Math.min(ROUNDS, Math.floor(SECONDS))),
    connections: CONNECTIONS,
    measures: runs.flatMap((run) => run.measures),
    workers: runs.flatMap((run) => run.workers),
    coldStarts: runs.flatMap((run) => (run.coldStart ? [run.coldStart] : [])),
  };
  await writeJson(path.join(OUT, 'results.json'), results);
}
writeReport(OUT, notes);
console.log(`wrote ${path.join(OUT, 'RESULTS.md')}`);
