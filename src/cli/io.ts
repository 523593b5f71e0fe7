// What the CLI reads and writes: its streams and environment, given by main.ts or by a test.
import type { Logger } from 'pino';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  env: Record<string, string | undefined>;
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT); used by `serve`. */
  untilStopped?(): Promise<void>;
  logger?: Logger;
}
