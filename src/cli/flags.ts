// Flags several command groups share: repeatable values and the grace period of a rotation.
import { Option } from 'commander';
import { parseDuration } from '../limits/index.ts';
import { GRACE_SECONDS } from '../oauth/index.ts';

/** Collects a repeatable flag's values in order. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * `--grace <duration>` with no default of its own: an absent --grace leaves grace_seconds out, so
 * the service's schema applies its default (written once, in GRACE_SECONDS), which the help states.
 */
export function graceOption(what: string, examples: string): Option {
  return new Option(
    '--grace <duration>',
    `how long the old ${what} keeps working, e.g. ${examples} (default: ${GRACE_SECONDS.default / 3600}h)`,
  );
}

/** A rotation's input from --grace: grace_seconds, or nothing for the schema's default. */
export function graceInput(grace: string | undefined): { grace_seconds?: number } {
  return { grace_seconds: grace === undefined ? undefined : parseDuration(grace, 'grace_seconds') };
}
