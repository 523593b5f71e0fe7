// `portcullis role …`: the roles people and clients hold (src/access). A role's permissions are
// scopes of registered APIs, each written AUDIENCE:SCOPE; an API registered with `--rbac` gives
// a person, a client or a key only the scopes their roles give. The flags map onto the role
// service's inputs in their wire names. This module also holds what the organization commands
// share with it: the flag of a list's entry, and a person named by email or id.
import type { Command } from 'commander';
import type { RoleAssignmentInput, RoleCreateInput, RoleUpdateInput } from '../../access/index.ts';
import { CLI_ACTOR } from '../../audit/index.ts';
import { InputError } from '../../errors/index.ts';
import type { Services } from '../../services.ts';
import { collect } from '../flags.ts';
import type { CliIo } from '../io.ts';
import { FlagError, printing, table, type FieldFlags, type FlagsOf, type Printed } from '../output.ts';
import { withServices } from '../services.ts';

// The role's name is an operand (`role show NAME`), so no flag gives `name`.
const ROLE_FLAGS = {
  description: '--description',
  permissions: '--permission',
  default: '--default',
  user_id: '--user',
  client_id: '--client',
} as const satisfies FlagsOf<RoleCreateInput & RoleUpdateInput & RoleAssignmentInput>;

export const PERMISSION_HELP = 'a scope of a registered API, AUDIENCE:SCOPE, e.g. https://api.example.com:orders:read (repeat)';
export const USER_HELP = "the person's id, or their email";

type CreateOptions = { permission?: string[]; description?: string; default?: boolean };
type UpdateOptions = {
  permission?: string[];
  /** false with --no-permissions (commander's default for a lone --no- flag is true). */
  permissions: boolean;
  description?: string;
  default?: boolean;
};
type HolderOptions = { user?: string; client?: string };

export function addRoleCommands(program: Command, io: CliIo): void {
  const printed = printingLists(io, ROLE_FLAGS);
  const role = program.command('role').description('manage roles: named sets of API scopes that people and clients hold');

  printed(
    role
      .command('create <name>')
      .description('make a role')
      .option('--permission <audience:scope>', PERMISSION_HELP, collect)
      .option('--description <text>', 'what the role is for')
      .option('--default', 'give it to every account made from now on'),
    {
      run: (options: CreateOptions, name: string) =>
        withServices(io, (services) =>
          services.roles.create(
            {
              name,
              permissions: options.permission ?? [],
              ...(options.description !== undefined ? { description: options.description } : {}),
              ...(options.default ? { default: true } : {}),
            },
            CLI_ACTOR,
          ),
        ),
      human: describeFields,
    },
  );

  printed(role.command('list').description('list roles'), {
    run: () => withServices(io, (services) => services.roles.list()),
    human: (roles) => table(roles, ['name', 'default', 'permissions', 'description']),
  });

  printed(role.command('show <name>').description('one role, with how many people and clients hold it'), {
    run: (_options: object, name: string) => withServices(io, (services) => services.roles.show(name)),
    human: describeFields,
  });

  printed(
    role
      .command('update <name>')
      .description("change a role's permissions, description or default mark; what is not given stays")
      .option('--permission <audience:scope>', `${PERMISSION_HELP}; replaces the list`, collect)
      .option('--no-permissions', 'take every permission away')
      .option('--default', 'give it to every account made from now on')
      .option('--no-default', 'new accounts no longer get it (those that hold it keep it)')
      .option('--description <text>', 'what the role is for ("" for none)'),
    {
      run: (options: UpdateOptions, name: string) =>
        withServices(io, (services) => services.roles.update(name, updateInput(options), CLI_ACTOR)),
      human: describeFields,
    },
  );

  printed(role.command('delete <name>').description('delete a role: its holders lose what it gave at their next token'), {
    run: async (_options: object, name: string) => {
      await withServices(io, (services) => services.roles.delete(name, CLI_ACTOR));
      return { name, deleted: true };
    },
    human: ({ name }) => `deleted role ${name}`,
  });

  printed(holderOptions(role.command('assign <name>').description('give a role to a person or a client')), {
    run: (options: HolderOptions, name: string) =>
      withServices(io, async (services) => {
        const holder = await holderInput(services, options);
        return { role: name, ...holder, ...(await services.roles.assign(name, holder, CLI_ACTOR)) };
      }),
    human: (result) => `${holderText(result)} ${result.assigned ? 'now holds' : 'already held'} role ${result.role}`,
  });

  printed(holderOptions(role.command('unassign <name>').description('take a role away from a person or a client')), {
    run: (options: HolderOptions, name: string) =>
      withServices(io, async (services) => {
        const holder = await holderInput(services, options);
        return { role: name, ...holder, ...(await services.roles.unassign(name, holder, CLI_ACTOR)) };
      }),
    human: (result) => `${holderText(result)} ${result.unassigned ? 'no longer holds' : 'did not hold'} role ${result.role}`,
  });
}

const holderOptions = (command: Command) =>
  command.option('--user <id|email>', `the person: ${USER_HELP}`).option('--client <client_id>', 'the client');

/** --user or --client as the service's input; which of the two (exactly one) is the service's rule. */
async function holderInput(services: Services, options: HolderOptions): Promise<RoleAssignmentInput> {
  return {
    ...(options.user !== undefined ? { user_id: await userId(services, options.user) } : {}),
    ...(options.client !== undefined ? { client_id: options.client } : {}),
  };
}

const holderText = (holder: RoleAssignmentInput) => (holder.user_id ? `user ${holder.user_id}` : `client ${holder.client_id}`);

/** The flags of `role update`: a list given replaces the one before; what is not given stays. */
function updateInput(options: UpdateOptions): RoleUpdateInput {
  if (options.permission && !options.permissions) throw new InputError('permissions', 'give --permission or --no-permissions, not both');
  return {
    ...(options.permission ? { permissions: options.permission } : !options.permissions ? { permissions: [] } : {}),
    ...(options.default !== undefined ? { default: options.default } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
  };
}

/**
 * The id of the person `--user` names: an email (as an operator knows them) is looked up, an id
 * is handed on as it is (whether it exists is the service's rule, which names user_id).
 */
export async function userId(services: Services, value: string): Promise<string> {
  if (!value.includes('@')) return value;
  const found = await services.users.findByEmail(value);
  if (!found) throw new InputError('user_id', `no user has the email ${value}`);
  return found.id;
}

/**
 * `printing` for a group whose services name an entry of a list with its place
 * (`permissions[2]`, `roles[0]`): the entry came from the list's repeated flag, which the message
 * names as it names any other.
 */
export function printingLists(io: CliIo, flags: FieldFlags) {
  const printed = printing(io, flags);
  return <Options extends object, Result>(command: Command, spec: Printed<Options, Result>): Command =>
    printed<Options, Result>(command, {
      ...spec,
      run: (options, ...operands) =>
        spec.run(options, ...operands).catch((error: unknown) => {
          const list = error instanceof InputError ? /^(.+)\[\d+\]$/.exec(error.field)?.[1] : undefined;
          const flag = list === undefined ? undefined : flags[list];
          throw flag && error instanceof InputError ? new FlagError(error, flag) : error;
        }),
    });
}

/** A role (or an organization, or one of its roles) for people: its fields one a line, in the wire's names. */
export function describeFields(view: object): string {
  const fields = Object.entries(view).filter(([, value]) => value !== null && value !== undefined);
  const width = Math.max(...fields.map(([field]) => field.length)) + 2;
  return fields
    .map(([field, value]) => `${`${field}:`.padEnd(width)}${Array.isArray(value) ? value.join(' ') || '(none)' : String(value)}`)
    .join('\n');
}
