// What the benchmark measures a server by: its CPU time and resident memory from /proc (summed
// over a cluster primary and its workers), and the load generators (autocannon for single
// requests, plain loops for flows it cannot chain). Linux only, as the machines it runs on.
import fs from 'node:fs';
import autocannon from 'autocannon';

export interface Observed {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  peakRssMb: number;
  /** The server's CPU time (user + system, every thread of every process) per request, in microseconds. */
  cpuUsPerRequest: number;
  /** The same for the main threads alone: JavaScript runs there, so it bounds what one process can serve. */
  mainThreadUsPerRequest: number;
}

/** What one scenario's load gave, before the server's memory and CPU are added. */
export type Load = Pick<Observed, 'rps' | 'p50' | 'p99' | 'errors'> & { requests: number };

/** Linux's USER_HZ: the unit of the CPU times in /proc/<pid>/stat. */
const CLOCK_TICKS = 100;

/**
 * The process and the processes it started (a cluster primary's workers), from
 * /proc/<pid>/task/<pid>/children: node:cluster forks from the main thread. A process that has
 * exited meanwhile is left out rather than failing the sample.
 */
export function processTree(pid: number): number[] {
  const children = readProc(`/proc/${pid}/task/${pid}/children`);
  if (children === undefined) return [];
  return [pid, ...children.split(' ').filter(Boolean).map(Number).flatMap(processTree)];
}

function readProc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) used so far, in microseconds, by a process or by its main thread alone. */
function cpuMicrosOf(pid: number, mainThreadOnly: boolean): number {
  const stat = readProc(mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`);
  if (!stat) return 0;
  const fields = stat.split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}

/**
 * CPU time per process of the tree, keyed by pid: differences are taken per process, so a worker
 * that starts or ends during a measure does not count its whole life.
 */
function cpuSnapshot(pid: number, mainThreadOnly: boolean): Map<number, number> {
  return new Map(processTree(pid).map((member) => [member, cpuMicrosOf(member, mainThreadOnly)]));
}

function cpuSpent(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, micros] of after) total += micros - (before.get(pid) ?? 0);
  return total;
}

/** Resident memory of the process and its workers, in kB. */
export function residentKb(pid: number): number {
  return processTree(pid).reduce(
    (sum, member) => sum + Number(/VmRSS:\s+(\d+)/.exec(readProc(`/proc/${member}/status`) ?? '')?.[1] ?? 0),
    0,
  );
}

/** Runs `work` while sampling the server's resident memory; adds its peak and CPU per request. */
export async function observe(pid: number, work: () => Promise<Load>): Promise<Observed> {
  let peak = 0;
  const sample = () => (peak = Math.max(peak, residentKb(pid)));
  sample();
  const timer = setInterval(sample, 100);
  try {
    const cpuBefore = cpuSnapshot(pid, false);
    const mainBefore = cpuSnapshot(pid, true);
    const { requests, ...result } = await work();
    const cpu = cpuSpent(cpuBefore, cpuSnapshot(pid, false));
    const main = cpuSpent(mainBefore, cpuSnapshot(pid, true));
    sample();
    const perRequest = (micros: number) => (requests ? Math.round(micros / requests) : 0);
    return { ...result, peakRssMb: Math.round(peak / 1024), cpuUsPerRequest: perRequest(cpu), mainThreadUsPerRequest: perRequest(main) };
  } finally {
    clearInterval(timer);
  }
}

/** autocannon's result as a Load: any status other than `expected` counts as an error. */
export function loadOf(result: autocannon.Result, expected = 200): Load {
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

/** Runs `work` in `workers` parallel loops for `seconds`; for flows autocannon cannot chain. */
export async function loop(workers: number, seconds: number, work: (worker: number) => Promise<unknown>): Promise<Load> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = Date.now() + seconds * 1000;
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
  return { rps: Math.round((latencies.length / seconds) * 10) / 10, p50: at(0.5), p99: at(0.99), errors, requests: latencies.length };
}

/** The middle value (the upper one of an even count). */
export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
