// A worker's side of the cluster: which worker this process is, and the requests it makes to
// the primary (every worker's metrics, aggregated there).
import { AggregatorRegistry, type Registry } from 'prom-client';
import { isPrimaryMessage, WORKER_INDEX_VARIABLE, type WorkerMessage } from './messages.ts';

export interface WorkerRole {
  /** 1 to N; stable across restarts (a replacement takes the index of the worker it replaces). */
  index: number;
  /** Whether this worker runs the timers that must run once per cluster (the purge, key rotation). */
  runsSchedule: boolean;
}

/** This process's role in a Portcullis cluster, or undefined when it is not a worker of one. */
export function workerRole(env: Record<string, string | undefined> = process.env): WorkerRole | undefined {
  const index = Number(env[WORKER_INDEX_VARIABLE]);
  if (!process.send || !Number.isInteger(index) || index < 1) return undefined;
  return { index, runsSchedule: index === 1 };
}

export function tellPrimary(message: WorkerMessage): void {
  process.send?.(message);
}

/** How long a worker waits for the aggregated metrics before answering with an error. */
const METRICS_TIMEOUT_MS = 5_000;

/**
 * Lets the primary collect `registry` (prom-client's cluster protocol) and returns the function a
 * worker's /metrics calls: it asks the primary, which asks every worker and sums what they say.
 */
export function clusterMetrics(registry: Registry): () => Promise<string> {
  // Constructing the aggregator installs prom-client's worker-side listener; setRegistries
  // names what this worker reports (each server has a registry of its own, not the global one).
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  let nextId = 0;
  const waiting = new Map<number, { resolve(text: string): void; reject(error: Error): void; timer: NodeJS.Timeout }>();
  process.on('message', (message) => {
    if (!isPrimaryMessage(message)) return;
    const request = waiting.get(message.id);
    if (!request) return;
    waiting.delete(message.id);
    clearTimeout(request.timer);
    if (message.text !== undefined) request.resolve(message.text);
    else request.reject(new Error(`the primary could not collect the metrics: ${message.error ?? 'no answer'}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the primary did not answer with the metrics in time'));
      }, METRICS_TIMEOUT_MS);
      timer.unref();
      waiting.set(id, { resolve, reject, timer });
      tellPrimary({ portcullis: 'metrics?', id });
    });
}
