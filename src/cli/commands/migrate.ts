// `portcullis migrate`: apply pending database migrations (every other database command does so
// first anyway; this one does only that).
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { migrate } from '../../db/index.ts';
import { printing } from '../output.ts';
import type { CliIo } from '../io.ts';

export function addMigrateCommand(program: Command, io: CliIo): void {
  printing(io, {})(program.command('migrate').description('apply pending database migrations'), {
    run: () => migrate(loadConfig(io.env).databaseUrl),
    human: (result) =>
      result.applied.length ? `applied ${result.applied.length} migration(s): ${result.applied.join(', ')}` : 'database is up to date',
  });
}
