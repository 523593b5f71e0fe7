// Cold starts: how long the production build takes from `node dist/cli/main.js serve` to its first
// answer to discovery, on a database that already holds what a run left in it, and how long a
// CLI command takes to finish (`client list --json`). What an operator waits for on a restart,
// a deploy's health check, or a script that calls the CLI in a loop.
import path from 'node:path';
import { median } from './measure.ts';
import { node, root, stopProcess, type BenchTarget } from './support.ts';

export interface ColdStart {
  database: string;
  /** Milliseconds from spawn to the first 200 of /.well-known/openid-configuration, one per start. */
  serveMs: number[];
  /** Milliseconds from spawn to the exit of `client list --json`, one per run. */
  cliMs: number[];
  serveMedianMs: number;
  cliMedianMs: number;
}

/** How often a starting server is asked for discovery: the resolution of the figure. */
const POLL_MS = 5;
/** A start that takes longer than this is a failure, not a figure. */
const START_DEADLINE_MS = 30_000;

const round = (ms: number) => Math.round(ms);

async function timeServeStart(target: BenchTarget): Promise<number> {
  const started = performance.now();
  const child = node([path.join(root, 'dist/cli/main.js'), 'serve'], target.env, ['ignore', 'ignore', 'ignore']);
  try {
    while (performance.now() - started < START_DEADLINE_MS) {
      if (child.exitCode !== null) throw new Error(`portcullis serve exited ${child.exitCode} before it answered`);
      const response = await fetch(`${target.url}/.well-known/openid-configuration`).catch(() => undefined);
      if (response?.status === 200) {
        const elapsed = performance.now() - started;
        await response.arrayBuffer();
        return elapsed;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    throw new Error(`portcullis serve did not answer discovery within ${START_DEADLINE_MS} ms`);
  } finally {
    await stopProcess(child);
  }
}

async function timeCli(target: BenchTarget, args: string[]): Promise<number> {
  const started = performance.now();
  const child = node([path.join(root, 'dist/cli/main.js'), ...args], target.env, ['ignore', 'ignore', 'pipe']);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const elapsed = performance.now() - started;
  if (code !== 0) throw new Error(`portcullis ${args.join(' ')} exited ${code}: ${stderr}`);
  return elapsed;
}

/** `starts` cold starts of the server, then `starts` runs of `client list --json`, one after another. */
export async function measureColdStarts(target: BenchTarget, database: string, starts: number): Promise<ColdStart> {
  const serveMs: number[] = [];
  const cliMs: number[] = [];
  for (let run = 0; run < starts; run += 1) serveMs.push(round(await timeServeStart(target)));
  for (let run = 0; run < starts; run += 1) cliMs.push(round(await timeCli(target, ['client', 'list', '--json'])));
  return { database, serveMs, cliMs, serveMedianMs: median(serveMs), cliMedianMs: median(cliMs) };
}
