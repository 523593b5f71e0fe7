// The server's log: JSON lines (one object per line, what log collectors read), or lines for
// people (pino-pretty) when a person is watching: in development with the output on a terminal,
// or whenever LOG_FORMAT=pretty.
import pino, { type Logger } from 'pino';
import type { Config } from '../config/index.ts';

export function usesPrettyLogs(config: Pick<Config, 'logFormat' | 'production'>, isTerminal: boolean): boolean {
  if (config.logFormat !== 'auto') return config.logFormat === 'pretty';
  return !config.production && isTerminal;
}

export async function createLogger(
  config: Pick<Config, 'logFormat' | 'production' | 'logLevel'>,
  isTerminal = process.stdout.isTTY === true,
): Promise<Logger> {
  const options = { level: config.logLevel, base: { service: 'portcullis' } };
  // Lines are written at once (pino's default): measured here, buffering them (pino's
  // minLength) cost more CPU per request than the write(2) it saves (bench/RESULTS.md).
  if (!usesPrettyLogs(config, isTerminal)) return pino(options);
  // Loaded only when used, so a production start does not pay for it.
  const { default: pretty } = await import('pino-pretty');
  return pino(
    options,
    pretty({
      colorize: isTerminal,
      sync: true,
      translateTime: 'SYS:HH:MM:ss',
      singleLine: true,
      // A request reads as `GET /token 200 3.1 ms`; the fields it is made of are not repeated.
      messageFormat: (log, messageKey) =>
        log[messageKey] === 'request'
          ? `${String(log.method)} ${String(log.path)} ${String(log.status)} ${String(log.ms)} ms`
          : String(log[messageKey]),
      ignore: 'pid,hostname,service,method,path,status,ms,requestId,version,node,production',
    }),
  );
}
