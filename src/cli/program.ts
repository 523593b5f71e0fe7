// The `portcullis` command line: assembles the command groups (src/cli/commands/, one module
// each) into one program and runs it, rendering every failure in one place. Each command is a
// thin shell over the service layer (src/services.ts); with --json it prints exactly one JSON
// document on stdout (src/cli/output.ts).
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/index.ts';
import { fromDatabaseError, PortcullisError } from '../errors/index.ts';
import { addApiKeyCommands } from './commands/apikey.ts';
import { addClientCommands } from './commands/client.ts';
import { addConnectionCommands } from './commands/connection.ts';
import { addDemoCommand } from './commands/demo.ts';
import { addKeysCommands } from './commands/keys.ts';
import { addManifestCommands } from './commands/manifest.ts';
import { addMigrateCommand } from './commands/migrate.ts';
import { addOrganizationCommands } from './commands/organization.ts';
import { addResourceCommands } from './commands/resource.ts';
import { addRoleCommands } from './commands/role.ts';
import { addServeCommand } from './commands/serve.ts';
import { addUserCommands } from './commands/user.ts';
import type { CliIo } from './io.ts';
import { FlagError } from './output.ts';

export type { CliIo };

/** In the order `portcullis --help` lists them. */
const commandGroups = [
  addServeCommand,
  addMigrateCommand,
  addClientCommands,
  addResourceCommands,
  addManifestCommands,
  addKeysCommands,
  addDemoCommand,
  addApiKeyCommands,
  addUserCommands,
  addRoleCommands,
  addOrganizationCommands,
  addConnectionCommands,
];

export function buildProgram(io: CliIo): Command {
  const program = new Command('portcullis')
    .description('Portcullis: an OAuth 2.0 / OpenID Connect authorization server')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) })
    .showHelpAfterError();
  for (const addGroup of commandGroups) addGroup(program, io);
  return program;
}

/** Runs the CLI with `argv` (without node and script). Resolves with the exit code; never throws. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (caught) {
    // Commander has already printed its usage error (and help).
    if (caught instanceof CommanderError) return caught.exitCode;
    const { message, body } = failure(caught);
    io.stderr(argv.includes('--json') ? `${JSON.stringify(body)}\n` : `portcullis: ${message}\n`);
    return 1;
  }
}

/** A failure for people (`message`) and for --json (`body`: the admin API's error shape). */
function failure(caught: unknown): { message: string; body: Record<string, unknown> } {
  if (caught instanceof FlagError) return { message: caught.humanMessage(), body: errorBody(caught.input) };
  const error = fromDatabaseError(caught);
  if (error instanceof ConfigError) return { message: error.message, body: { error: 'invalid_configuration', problems: error.problems } };
  if (error instanceof PortcullisError) return { message: error.message, body: errorBody(error) };
  const message = error instanceof Error ? error.message : String(error);
  return { message, body: { error: 'error', error_description: message } };
}

function errorBody(error: PortcullisError): Record<string, unknown> {
  return { error: error.code, error_description: error.message, ...('field' in error ? { field: error.field } : {}) };
}
