// `portcullis user …`: create and list the people who log in. A password is read from standard
// input only: on the command line it would sit in shell history and in every process listing.
import type { Command } from 'commander';
import { CLI_ACTOR } from '../../audit/index.ts';
import { PortcullisError } from '../../errors/index.ts';
import type { UserCreateInput } from '../../users/index.ts';
import { printing, table, type FlagsOf } from '../output.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';

const USER_FLAGS = { email: '--email', password: '--password-stdin', name: '--name' } as const satisfies FlagsOf<UserCreateInput>;

export function addUserCommands(program: Command, io: CliIo): void {
  const printed = printing(io, USER_FLAGS);
  const user = program.command('user').description('manage users');

  printed(
    user
      .command('create')
      .description('create a user; the password is read from standard input')
      .requiredOption('--email <email>', 'email address (the login name)')
      .option('--password-stdin', 'read the password from standard input (required: passwords never go on the command line)')
      .option('--name <name>', 'display name'),
    {
      run: async (options: { email: string; passwordStdin?: boolean; name?: string }) => {
        const password = await readPassword(io, options.passwordStdin === true);
        // An empty --name is no name, as it always was on the command line.
        const input: UserCreateInput = { email: options.email, password, name: options.name || undefined };
        return withServices(io, (services) => services.users.create(input, CLI_ACTOR));
      },
      human: (created) => `id: ${created.id}`,
    },
  );

  printed(user.command('list').description('list users'), {
    run: () => withServices(io, (services) => services.users.list()),
    human: (users) => table(users, ['id', 'email', 'name', 'disabled']),
  });
}

async function readPassword(io: CliIo, fromStdin: boolean): Promise<string> {
  if (!fromStdin) {
    throw new PortcullisError('invalid_input', 2, '--password-stdin is required: pipe the password in, never pass it as an argument');
  }
  // One trailing newline is what `echo` and a terminal add; it is not part of the password.
  return (await io.readStdin()).replace(/\r?\n$/, '');
}
