// The syntax of the limits' values, written once: durations ("90s", "15m", "24h", "7d") and
// rates ("100/1m": so many requests per window). The CLI, the configuration and the services
// all parse them here.
import { InputError } from '../errors/index.ts';

const UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
type Unit = keyof typeof UNITS;

/** Parses "90s", "15m", "24h", "7d" or a bare number of seconds. `field` names the input at fault. */
export function parseDuration(text: string, field: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new InputError(field, `${JSON.stringify(text)} is not a duration such as 90s, 15m, 24h or 7d`);
  return Number(match[1]) * UNITS[(match[2] ?? 's') as Unit];
}

export interface RateLimit {
  points: number;
  seconds: number;
}

/** Parses "100/1m", "5/10s", "1000/1h" or "10/60" (seconds). Returns the canonical "N/Ss". */
export function parseRateLimit(text: string, field = 'rate_limit'): RateLimit & { canonical: string } {
  const match = /^(\d{1,7})\/(\d{1,6})?(s|m|h|d)?$/.exec(text.trim());
  const points = Number(match?.[1]);
  const seconds = Number(match?.[2] ?? 1) * UNITS[(match?.[3] ?? 's') as Unit];
  if (!match || !(points >= 1) || !(seconds >= 1) || seconds > 86_400) {
    throw new InputError(field, `${JSON.stringify(text)} is not a rate such as 100/1m (at most one day per window)`);
  }
  return { points, seconds, canonical: `${points}/${seconds}s` };
}

/** Whether `text` is a rate parseRateLimit accepts (for schemas). */
export function isRateLimit(text: string): boolean {
  try {
    parseRateLimit(text);
    return true;
  } catch {
    return false;
  }
}
