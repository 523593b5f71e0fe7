// `portcullis organization …`: the tenants of apps that sell to teams (src/access). An
// organization's members hold roles of one template, made once (`organization role …`), whose
// permissions are scopes of registered APIs; people join by being added or by accepting a mailed
// invitation. The flags map onto the organization service's inputs in their wire names.
import type { Command } from 'commander';
import type {
  InvitationCreateInput,
  MemberAddInput,
  MemberRolesInput,
  OrganizationCreateInput,
  OrganizationRoleCreateInput,
  OrganizationRoleUpdateInput,
  OrganizationUpdateInput,
} from '../../access/index.ts';
import { CLI_ACTOR } from '../../audit/index.ts';
import { InputError } from '../../errors/index.ts';
import { parseDuration } from '../../limits/index.ts';
import { collect } from '../flags.ts';
import type { CliIo } from '../io.ts';
import { table, type FlagsOf } from '../output.ts';
import { withServices } from '../services.ts';
import { describeFields, PERMISSION_HELP, printingLists, USER_HELP, userId } from './role.ts';

const ORGANIZATION_FLAGS = {
  name: '--name',
  description: '--description',
  user_id: '--user',
  roles: '--role',
  email: '--email',
  expires_in_seconds: '--expires-in',
} as const satisfies FlagsOf<OrganizationCreateInput & OrganizationUpdateInput & MemberAddInput & MemberRolesInput & InvitationCreateInput>;

// A template role's name is an operand (`organization role show NAME`), so no flag gives `name`.
const ROLE_FLAGS = {
  description: '--description',
  permissions: '--permission',
  manage_keys: '--manage-keys',
} as const satisfies FlagsOf<OrganizationRoleCreateInput & OrganizationRoleUpdateInput>;

const ROLE_HELP = 'a role of the template (repeat)';

type RoleCreateOptions = { permission?: string[]; description?: string; manageKeys?: boolean };
type RoleUpdateOptions = {
  permission?: string[];
  /** false with --no-permissions. */
  permissions: boolean;
  description?: string;
  manageKeys?: boolean;
};
type MemberRolesOptions = {
  user: string;
  role?: string[];
  /** false with --no-roles. */
  roles: boolean;
};
type InviteOptions = { email: string; role?: string[]; expiresIn?: string; lang?: string };

export function addOrganizationCommands(program: Command, io: CliIo): void {
  const printed = printingLists(io, ORGANIZATION_FLAGS);
  const organization = program
    .command('organization')
    .description('manage organizations (tenants), the roles their members may hold, members and invitations');

  printed(
    organization
      .command('create')
      .description("make an organization; prints its id and the resource indicator of its members' tokens")
      .requiredOption('--name <name>', "the organization's name, as people see it")
      .option('--description <text>', 'what it is'),
    {
      run: (options: { name: string; description?: string }) =>
        withServices(io, (services) => services.organizations.create(given(options), CLI_ACTOR)),
      human: describeFields,
    },
  );

  printed(organization.command('list').description('list organizations'), {
    run: () => withServices(io, (services) => services.organizations.list()),
    human: (organizations) => table(organizations, ['id', 'name', 'description', 'created_at']),
  });

  printed(organization.command('show <id>').description('one organization, with how many members it has'), {
    run: (_options: object, id: string) => withServices(io, (services) => services.organizations.show(id)),
    human: describeFields,
  });

  printed(
    organization
      .command('update <id>')
      .description("change an organization's name or description; what is not given stays")
      .option('--name <name>', "the organization's name")
      .option('--description <text>', 'what it is ("" for none)'),
    {
      run: (options: { name?: string; description?: string }, id: string) =>
        withServices(io, (services) => services.organizations.update(id, given(options), CLI_ACTOR)),
      human: describeFields,
    },
  );

  printed(
    organization
      .command('delete <id>')
      .description('delete an organization with its members and invitations (refused while its API keys are live or clients belong to it)'),
    {
      run: async (_options: object, id: string) => {
        await withServices(io, (services) => services.organizations.delete(id, CLI_ACTOR));
        return { id, deleted: true };
      },
      human: ({ id }) => `deleted organization ${id}`,
    },
  );

  addTemplateCommands(organization, io);
  addMemberCommands(organization, io);

  printed(
    organization
      .command('invite <organization_id>')
      .description('mail an invitation to join: a link the person opens signed in with that address')
      .requiredOption('--email <email>', 'the address to invite')
      .option('--role <name>', `${ROLE_HELP} they get on accepting`, collect)
      .option('--expires-in <duration>', 'how long the link works, e.g. 3600, 24h or 7d (default 7d, from 1h to 30d)')
      .option('--lang <language>', 'the language of the mail: en or de (default en)'),
    {
      run: (options: InviteOptions, organizationId: string) =>
        withServices(io, (services) => services.organizations.invite(organizationId, inviteInput(options), CLI_ACTOR, options.lang)),
      human: (invited) => `invitation ${invited.id} sent to ${invited.email}, good until ${invited.expires_at}`,
    },
  );

  const invitation = organization.command('invitation').description("an organization's invitations");

  printed(invitation.command('list <organization_id>').description("an organization's invitations, newest first (never their links)"), {
    run: (_options: object, organizationId: string) => withServices(io, (services) => services.organizations.invitations(organizationId)),
    human: (invitations) => table(invitations, ['id', 'email', 'roles', 'expires_at', 'accepted_at', 'revoked_at']),
  });

  printed(invitation.command('revoke <organization_id> <invitation_id>').description('revoke an open invitation: its link stops working'), {
    run: async (_options: object, organizationId: string, invitationId: string) => {
      await withServices(io, (services) => services.organizations.revokeInvitation(organizationId, invitationId, CLI_ACTOR));
      return { id: invitationId, organization_id: organizationId, revoked: true };
    },
    human: ({ id }) => `revoked invitation ${id}`,
  });
}

/** `organization role …`: the template every organization offers. */
function addTemplateCommands(organization: Command, io: CliIo): void {
  const printed = printingLists(io, ROLE_FLAGS);
  const role = organization.command('role').description('the roles members may hold in every organization (one template for all)');

  printed(
    role
      .command('create <name>')
      .description('add a role to the template')
      .option('--permission <audience:scope>', PERMISSION_HELP, collect)
      .option('--manage-keys', "its holders manage the organization's API keys and invitations")
      .option('--description <text>', 'what the role is for'),
    {
      run: (options: RoleCreateOptions, name: string) =>
        withServices(io, (services) =>
          services.organizations.createRole(
            {
              name,
              permissions: options.permission ?? [],
              ...(options.description !== undefined ? { description: options.description } : {}),
              ...(options.manageKeys ? { manage_keys: true } : {}),
            },
            CLI_ACTOR,
          ),
        ),
      human: describeFields,
    },
  );

  printed(role.command('list').description("the template's roles"), {
    run: () => withServices(io, (services) => services.organizations.listRoles()),
    human: (roles) => table(roles, ['name', 'manage_keys', 'permissions', 'description']),
  });

  printed(role.command('show <name>').description('one role of the template'), {
    run: (_options: object, name: string) => withServices(io, (services) => services.organizations.showRole(name)),
    human: describeFields,
  });

  printed(
    role
      .command('update <name>')
      .description("change a template role's permissions, description or whether it manages keys; what is not given stays")
      .option('--permission <audience:scope>', `${PERMISSION_HELP}; replaces the list`, collect)
      .option('--no-permissions', 'take every permission away')
      .option('--manage-keys', "its holders manage the organization's API keys and invitations")
      .option('--no-manage-keys', 'its holders no longer manage them')
      .option('--description <text>', 'what the role is for ("" for none)'),
    {
      run: (options: RoleUpdateOptions, name: string) =>
        withServices(io, (services) => services.organizations.updateRole(name, roleUpdateInput(options), CLI_ACTOR)),
      human: describeFields,
    },
  );

  printed(role.command('delete <name>').description('delete a template role: members in every organization lose it'), {
    run: async (_options: object, name: string) => {
      await withServices(io, (services) => services.organizations.deleteRole(name, CLI_ACTOR));
      return { name, deleted: true };
    },
    human: ({ name }) => `deleted organization role ${name}`,
  });
}

/** `organization member …`: who belongs to an organization, holding which of the template's roles. */
function addMemberCommands(organization: Command, io: CliIo): void {
  const printed = printingLists(io, ORGANIZATION_FLAGS);
  const member = organization.command('member').description("an organization's members");

  printed(
    member
      .command('add <organization_id>')
      .description('add a person to an organization')
      .requiredOption('--user <id|email>', USER_HELP)
      .option('--role <name>', ROLE_HELP, collect),
    {
      run: (options: { user: string; role?: string[] }, organizationId: string) =>
        withServices(io, async (services) =>
          services.organizations.addMember(
            organizationId,
            { user_id: await userId(services, options.user), roles: options.role ?? [] },
            CLI_ACTOR,
          ),
        ),
      human: (added) => `${added.email ?? added.user_id} is a member, holding ${added.roles.join(' ') || 'no role'}`,
    },
  );

  printed(
    member
      .command('remove <organization_id>')
      .description('take a person out of an organization (their organization tokens end at their next refresh)')
      .requiredOption('--user <id|email>', USER_HELP),
    {
      run: (options: { user: string }, organizationId: string) =>
        withServices(io, async (services) => {
          const user = await userId(services, options.user);
          await services.organizations.removeMember(organizationId, user, CLI_ACTOR);
          return { organization_id: organizationId, user_id: user, removed: true };
        }),
      human: ({ user_id: user }) => `removed ${user}`,
    },
  );

  printed(member.command('list <organization_id>').description("an organization's members and their roles"), {
    run: (_options: object, organizationId: string) => withServices(io, (services) => services.organizations.members(organizationId)),
    human: (members) => table(members, ['user_id', 'email', 'roles', 'joined_at']),
  });

  printed(
    member
      .command('roles <organization_id>')
      .description("set a member's roles: these, and only these")
      .requiredOption('--user <id|email>', USER_HELP)
      .option('--role <name>', `${ROLE_HELP}; replaces the member's roles`, collect)
      .option('--no-roles', 'take every role away (the person stays a member)'),
    {
      run: (options: MemberRolesOptions, organizationId: string) =>
        withServices(io, async (services) =>
          services.organizations.setMemberRoles(organizationId, await userId(services, options.user), memberRolesInput(options), CLI_ACTOR),
        ),
      human: (changed) => `${changed.email ?? changed.user_id} holds ${changed.roles.join(' ') || 'no role'}`,
    },
  );
}

/** The text flags given, by their wire names; an absent flag is left out (the service's default, or no change). */
function given(options: { name: string; description?: string }): OrganizationCreateInput;
function given(options: { name?: string; description?: string }): OrganizationUpdateInput;
function given(options: { name?: string; description?: string }) {
  return {
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
  };
}

/** The flags of `organization role update`: a list given replaces the one before; what is not given stays. */
function roleUpdateInput(options: RoleUpdateOptions): OrganizationRoleUpdateInput {
  if (options.permission && !options.permissions) throw new InputError('permissions', 'give --permission or --no-permissions, not both');
  return {
    ...(options.permission ? { permissions: options.permission } : !options.permissions ? { permissions: [] } : {}),
    ...(options.manageKeys !== undefined ? { manage_keys: options.manageKeys } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
  };
}

/** --role (repeated) or --no-roles: a member's roles are set whole, so one of the two is asked for, never guessed. */
function memberRolesInput(options: MemberRolesOptions): MemberRolesInput {
  if (options.role && !options.roles) throw new InputError('roles', 'give --role or --no-roles, not both');
  if (!options.role && options.roles) throw new InputError('roles', 'give the roles (--role, repeat), or --no-roles for none');
  return { roles: options.role ?? [] };
}

function inviteInput(options: InviteOptions): InvitationCreateInput {
  return {
    email: options.email,
    roles: options.role ?? [],
    ...(options.expiresIn !== undefined ? { expires_in_seconds: parseDuration(options.expiresIn, 'expires_in_seconds') } : {}),
  };
}
