// The cluster's primary process: forks the workers (each a whole Portcullis server on the shared
// port and the same database), keeps them running, answers their requests for shared state, and
// drains them all on shutdown. It serves no request itself.
//
// What the primary holds for the workers:
// - rate-limit and login-lock counters when REDIS_URL is unset (rate-limiter-flexible's
//   RateLimiterClusterMaster: each check is one IPC round trip to the primary); with REDIS_URL
//   the workers count in Redis, exactly as separate instances do;
// - nothing else: caches expire within their second in every worker, signing keys are polled from
//   the database by each worker, API-key usage is counted per worker and added up in the database.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { RateLimiterClusterMaster } from 'rate-limiter-flexible';
import { isWorkerMessage, WORKER_INDEX_VARIABLE, type PrimaryMessage } from './messages.ts';

export interface ClusterOptions {
  workers: number;
  logger: Logger;
  /** Keep the rate-limit counters in the primary (no REDIS_URL). */
  countLimitsHere: boolean;
  /** Resolves when the cluster should stop (SIGTERM, SIGINT). */
  untilStopped: () => Promise<void>;
}

export interface RunningCluster {
  /** Resolves with the URLs once every worker listens; rejects if one fails before it does. */
  ready: Promise<{ url: string; managementUrl?: string | undefined }>;
  /** Resolves with the exit code once every worker has exited. */
  stopped: Promise<number>;
}

/** How long a stopping worker may take (its own drain allows 10 s) before it is killed. */
const WORKER_STOP_DEADLINE_MS = 15_000;
/** A worker that crashes is replaced after this long, doubling while it keeps crashing within a minute. */
const RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 30_000;

export function startCluster({ workers, logger, countLimitsHere, untilStopped }: ClusterOptions): RunningCluster {
  if (countLimitsHere) new RateLimiterClusterMaster();
  const metrics = new AggregatorRegistry();
  const byIndex = new Map<number, Worker>();
  const listening = new Set<number>();
  const crashes = new Map<number, { count: number; at: number }>();
  const restarts = new Set<NodeJS.Timeout>();
  let stopping = false;
  let settleReady: { resolve(urls: { url: string; managementUrl?: string }): void; reject(error: Error): void };
  const ready = new Promise<{ url: string; managementUrl?: string }>((resolve, reject) => (settleReady = { resolve, reject }));
  ready.catch(() => undefined); // a failed start is also reported through `stopped`
  let exitCode = 0;
  let settleStopped: (code: number) => void;
  const stopped = new Promise<number>((resolve) => (settleStopped = resolve));
  let isReady = false;

  const fork = (index: number) => {
    const worker = cluster.fork({ [WORKER_INDEX_VARIABLE]: String(index) });
    byIndex.set(index, worker);
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.portcullis === 'listening') {
        listening.add(index);
        if (isReady) logger.info({ worker: index, pid: worker.process.pid }, 'the replacement worker is listening');
        else if (listening.size === workers) {
          isReady = true;
          settleReady.resolve({ url: message.url, managementUrl: message.managementUrl });
        }
      } else if (message.portcullis === 'metrics?') {
        const reply = (answer: Omit<PrimaryMessage, 'portcullis' | 'id'>) => {
          if (worker.isConnected()) worker.send({ portcullis: 'metrics', id: message.id, ...answer } satisfies PrimaryMessage);
        };
        metrics.clusterMetrics().then(
          (text) => reply({ text }),
          (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
        );
      }
    });
    worker.on('exit', (code, signal) => {
      if (byIndex.get(index) === worker) byIndex.delete(index);
      if (stopping) {
        if (byIndex.size === 0) settleStopped(exitCode);
        return;
      }
      listening.delete(index);
      if (!isReady) {
        // A worker that cannot start (port taken, database unreachable) would fail again.
        logger.error({ worker: index, code, signal }, 'a worker failed to start; stopping');
        exitCode = 1;
        settleReady.reject(new Error(`worker ${index} exited with ${signal ?? code} before it listened`));
        stop();
        return;
      }
      const last = crashes.get(index);
      const count = last && Date.now() - last.at < 60_000 ? last.count + 1 : 1;
      crashes.set(index, { count, at: Date.now() });
      const delay = Math.min(RESTART_DELAY_MS * 2 ** (count - 1), MAX_RESTART_DELAY_MS);
      logger.error({ worker: index, code, signal, restartInMs: delay }, 'a worker exited; starting another in its place');
      // Not unref'd: with every worker gone, this timer is what keeps the primary alive to replace them.
      const timer = setTimeout(() => {
        restarts.delete(timer);
        if (!stopping) fork(index);
      }, delay);
      restarts.add(timer);
    });
  };

  function stop() {
    if (stopping) return;
    stopping = true;
    for (const timer of restarts) clearTimeout(timer);
    restarts.clear();
    // Asked to stop while still starting: the start is over, unfinished.
    if (!isReady) settleReady.reject(new Error('stopped before every worker listened'));
    if (byIndex.size === 0) settleStopped(exitCode);
    for (const worker of byIndex.values()) {
      // Each worker drains its connections, writes what it buffered and closes its database.
      worker.process.kill('SIGTERM');
      setTimeout(() => {
        if (!worker.isDead()) {
          logger.warn({ pid: worker.process.pid }, 'a worker did not stop in time; killing it');
          worker.process.kill('SIGKILL');
        }
      }, WORKER_STOP_DEADLINE_MS).unref();
    }
  }

  for (let index = 1; index <= workers; index += 1) fork(index);
  void untilStopped().then(() => {
    logger.info({ workers: byIndex.size }, 'shutting down the workers');
    stop();
  });
  return { ready, stopped };
}
