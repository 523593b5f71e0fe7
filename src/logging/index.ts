export { createLogger, FLUSH_INTERVAL_MS, type ServerLogger } from './logger.ts';
