// bench/RESULTS.md from what the runs left in the output folder: results.json (the scenarios, the
// cold starts, one worker against two), soak.json (the last soak, which runs on its own), then
// bench/NOTES.md (what the profiles found). Either kind of run rewrites it, keeping the other's.
import fs from 'node:fs';
import path from 'node:path';
import { format } from 'prettier';
import type { ColdStart } from './coldStart.ts';
import type { Observed } from './measure.ts';
import type { SoakResult } from './soak.ts';

export interface Measure extends Observed {
  scenario: string;
  database: string;
  target: 'portcullis' | 'ceiling';
  /** For scenarios the ceiling serves: its requests/s in the same rounds, and the median ratio of the rounds. */
  ceilingRps?: number;
  ratio?: number;
}

/** One scenario on a cluster of `workers` processes (CPU and memory summed over the primary and its workers). */
export interface WorkersMeasure extends Observed {
  scenario: string;
  database: string;
  workers: number;
}

export interface Results {
  date: string;
  cpus: number;
  cpuModel: string;
  node: string;
  seconds: number;
  rounds: number;
  connections: number;
  measures: Measure[];
  workers: WorkersMeasure[];
  coldStarts: ColdStart[];
}

export type Soak = SoakResult & { date: string; node: string };

function scenarioTables(results: Results): string[] {
  const { measures } = results;
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
    `Measured ${results.date.slice(0, 10)} on ${results.cpus} CPUs (${results.cpuModel}), Node ${results.node}, ${results.seconds} s per scenario, ${results.connections} connections (4 for whole login flows), load generator on the same machine. Made by \`npm run bench\`.`,
    '',
    `Scenarios the ceiling serves too are measured in ${results.rounds} alternating rounds (ceiling, Portcullis), sharing the scenario's seconds; the figures are the median round, and the ratio is the median of the rounds' ratios. "CPU µs/request" is the server process's CPU time (user + system, all threads) divided by the requests it answered; "main thread" is the same for the thread that runs JavaScript, which bounds what one process can serve.`,
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
  ];
}

function coldStartTable(coldStarts: ColdStart[]): string[] {
  if (!coldStarts.length) return [];
  return [
    '## Cold start',
    '',
    'From spawning `node dist/cli/main.js serve` to the first 200 of `/.well-known/openid-configuration`, on the database the run above filled (migrated, with its clients, keys and every token the scenarios left); and from spawning `node dist/cli/main.js client list --json` to its exit. One after another, nothing else running on the server side; the median and each run, in milliseconds.',
    '',
    '| database | serve → discovery, median ms | runs | `client list --json`, median ms | runs |',
    '| --- | --- | --- | --- | --- |',
    ...coldStarts.map((c) => `| ${c.database} | ${c.serveMedianMs} | ${c.serveMs.join(', ')} | ${c.cliMedianMs} | ${c.cliMs.join(', ')} |`),
    '',
  ];
}

function workersTable(workers: WorkersMeasure[]): string[] {
  if (!workers.length) return [];
  const single = (m: WorkersMeasure) => workers.find((o) => o.workers === 1 && o.scenario === m.scenario && o.database === m.database);
  return [
    '## One worker and two',
    '',
    'The same scenarios on `WORKERS=1` (one process) and `WORKERS=2` (a cluster primary and two workers), one after the other, with the load generator on the same two cores. CPU is summed over the primary and its workers; "main threads" sums each process\'s main thread. The last column is requests/s against one worker\'s.',
    '',
    '| scenario | database | workers | requests/s | p50 ms | p99 ms | errors | CPU µs/request | main threads µs/request | peak RSS MB (all processes) | against 1 worker |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...workers.map((m) => {
      const base = single(m);
      return `| ${m.scenario} | ${m.database} | ${m.workers} | ${m.rps} | ${m.p50} | ${m.p99} | ${m.errors} | ${m.cpuUsPerRequest} | ${m.mainThreadUsPerRequest} | ${m.peakRssMb} | ${base ? (m.rps / Math.max(1, base.rps)).toFixed(2) : '–'} |`;
    }),
    '',
  ];
}

function soakSection(soak: Soak | undefined): string[] {
  if (!soak) return [];
  const from = soak.rssMb[Math.min(60, Math.floor(soak.rssMb.length / 5))];
  const perMinute = soak.rssMb.filter((_, second) => second % 60 === 59);
  return [
    '## Soak',
    '',
    `\`npm run bench -- --soak\`, measured ${soak.date.slice(0, 10)} (Node ${soak.node}) on ${soak.database}: a mix of client credentials (JWT), introspection of an opaque token, introspection of an API key and refresh-token rotation, in equal parts over ${soak.connections} connections, first at full speed (the peak), then held at 80% of it for ${soak.seconds} s. Resident memory was sampled once a second.`,
    '',
    '| peak requests/s | held at | achieved requests/s | p50 ms | p99 ms | errors | CPU µs/request | main thread µs/request | RSS at 1 min, MB | RSS at the end, MB | growth | peak RSS MB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${soak.peakRps} | ${soak.targetRps} | ${soak.rps} | ${soak.p50} | ${soak.p99} | ${soak.errors} | ${soak.cpuUsPerRequest} | ${soak.mainThreadUsPerRequest} | ${from} | ${soak.rssMb.at(-1)} | ${soak.rssGrowthPercent} % | ${soak.peakRssMb} |`,
    '',
    ...(perMinute.length ? [`Resident memory at the end of each minute, MB: ${perMinute.join(', ')}.`, ''] : []),
  ];
}

/** Writes `value` as JSON in the repository's format, so `npm run format:check` passes after a run. */
export async function writeJson(file: string, value: unknown): Promise<void> {
  fs.writeFileSync(file, await format(JSON.stringify(value), { parser: 'json', filepath: file }));
}

function readJson<T>(file: string): T | undefined {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as T) : undefined;
}

/** Writes RESULTS.md in `out` from results.json and soak.json there, followed by bench/NOTES.md. */
export function writeReport(out: string, notesFile: string): void {
  const results = readJson<Results>(path.join(out, 'results.json'));
  const soak = readJson<Soak>(path.join(out, 'soak.json'));
  const notes = fs.existsSync(notesFile) ? `\n${fs.readFileSync(notesFile, 'utf8')}` : '';
  const text = [
    '# Benchmark results',
    '',
    ...(results ? [...scenarioTables(results), ...coldStartTable(results.coldStarts ?? []), ...workersTable(results.workers ?? [])] : []),
    ...soakSection(soak),
  ].join('\n');
  fs.writeFileSync(path.join(out, 'RESULTS.md'), text + notes);
}
