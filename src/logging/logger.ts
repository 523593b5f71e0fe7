// The server's logger: pino, writing JSON lines to standard output through a buffer.
//
// One line per request is the largest cost Portcullis adds to a token request (bench/RESULTS.md):
// written at once, every line is a write(2). Buffered, lines leave in blocks of about 4 KiB, and
// a timer flushes what is left at least every FLUSH_INTERVAL_MS, so a quiet server's lines are
// not held back. pino flushes the buffer when the process exits; a process killed outright
// (SIGKILL, a crash of Node itself) loses at most the last interval's lines. Audit events are
// not logs: they go to the database and are never buffered here.
import pino, { type Logger } from 'pino';

/** The longest a line waits in the buffer. */
export const FLUSH_INTERVAL_MS = 100;
/** Bytes gathered before a write. */
const BUFFER_BYTES = 4096;

export interface ServerLogger {
  logger: Logger;
  /** Writes out what is buffered and stops the flush timer. */
  close(): void;
}

export function createLogger({ level }: { level: string }): ServerLogger {
  const destination = pino.destination({ dest: 1, minLength: BUFFER_BYTES, sync: false });
  const logger = pino({ level, base: { service: 'portcullis' } }, destination);
  const timer = setInterval(() => destination.flush(), FLUSH_INTERVAL_MS);
  timer.unref();
  return {
    logger,
    close() {
      clearInterval(timer);
      destination.flushSync();
    },
  };
}
