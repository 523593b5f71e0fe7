// `portcullis keys …`: list and rotate the signing keys (src/keys/). Running servers pick a
// rotation up within their poll interval.
import type { Command } from 'commander';
import { CLI_ACTOR } from '../../audit/index.ts';
import type { KeyRotateInput } from '../../keys/index.ts';
import { printing, table, type FlagsOf } from '../output.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';

const KEYS_FLAGS = { force: '--force' } as const satisfies FlagsOf<KeyRotateInput>;

export function addKeysCommands(program: Command, io: CliIo): void {
  const printed = printing(io, KEYS_FLAGS);
  const keys = program.command('keys').description('manage signing keys');

  printed(keys.command('list').description('list signing keys: kid, algorithm, state (next, current, previous, retired) and dates'), {
    run: () => withServices(io, (services) => services.keys.list()),
    human: (list) => table(list, ['kid', 'alg', 'state', 'created_at', 'activated_at', 'deactivated_at']),
  });

  printed(
    keys
      .command('rotate')
      .description(
        'promote next to current and current to previous, and create a new next key; running servers pick it up within their poll interval',
      )
      .option('--force', 'rotate even if the next key is younger than the JWKS cache lifetime (for a compromised key)'),
    {
      run: (options: { force?: boolean }) => withServices(io, (services) => services.keys.rotate({ force: options.force }, CLI_ACTOR)),
      human: (rotated) => `current:  ${rotated.current}\nnext:     ${rotated.next}\nprevious: ${rotated.previous}`,
    },
  );
}
