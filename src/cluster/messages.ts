// What the primary and its workers say to each other over the cluster's IPC channel, besides
// what rate-limiter-flexible and prom-client exchange on channels of their own.

/** The environment variable that tells a process it is worker `index` of a Portcullis cluster. */
export const WORKER_INDEX_VARIABLE = 'PORTCULLIS_WORKER_INDEX';

export type WorkerMessage =
  /** The worker serves requests (sent once, after its HTTP server is bound). */
  | { portcullis: 'listening'; url: string; managementUrl?: string }
  /** The worker asks for every worker's metrics, aggregated (its /metrics answers with them). */
  | { portcullis: 'metrics?'; id: number };

export type PrimaryMessage = { portcullis: 'metrics'; id: number; text?: string; error?: string };

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return typeof message === 'object' && message !== null && typeof (message as { portcullis?: unknown }).portcullis === 'string';
}

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  return isWorkerMessage(message) && (message as { portcullis: string }).portcullis === 'metrics';
}
