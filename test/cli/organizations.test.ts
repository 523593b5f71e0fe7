// `portcullis organization …`, and the organization a client or an API key belongs to, run as an
// operator types them, against a real database: what each prints (parsed from --json), what is
// stored, the invitation's mail (in the MAIL_OUTBOX_DIR folder, whose link the service accepts),
// and how a bad value is refused (the field the service names, and the flag it came from).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { cli, cliJson } from '../support/cli.ts';
import { testPepper } from '../support/server.ts';
import { startServices, type TestServices } from '../support/services.ts';

const CRM = 'https://crm.example.com';

let running: TestServices;
let env: Record<string, string>;
let outbox: string;
let ada: string;
let bob: string;

interface OrganizationView {
  id: string;
  name: string;
  description: string | null;
  created_by: string | null;
  created_at: string;
  resource: string;
  members?: number;
}

interface OrganizationRoleView {
  id: string;
  name: string;
  description: string | null;
  manage_keys: boolean;
  permissions: string[];
}

interface MemberView {
  user_id: string;
  email: string | null;
  roles: string[];
}

interface InvitationView {
  id: string;
  organization_id: string;
  email: string;
  roles: string[];
  expires_at: string;
  revoked_at: string | null;
}

beforeAll(async () => {
  running = await startServices();
  outbox = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-organizations-outbox-'));
  env = {
    DATABASE_URL: running.config.databaseUrl,
    HASH_PEPPER: testPepper,
    NODE_ENV: 'test',
    ISSUER: 'http://127.0.0.1:3000',
    MAIL_OUTBOX_DIR: outbox,
  };
  await cliJson(['resource', 'create', '--audience', CRM, '--scope', 'contacts:read contacts:write'], env);
  ({ id: ada } = await running.services.users.create({ email: 'ada@example.com', password: 'a long passphrase' }, CLI_ACTOR));
  ({ id: bob } = await running.services.users.create({ email: 'bob@example.com', password: 'another long passphrase' }, CLI_ACTOR));
  await cliJson(['organization', 'role', 'create', 'admin', '--permission', `${CRM}:contacts:write`, '--manage-keys'], env);
  await cliJson(['organization', 'role', 'create', 'viewer', '--permission', `${CRM}:contacts:read`], env);
});
afterAll(async () => {
  await running.stop();
  fs.rmSync(outbox, { recursive: true, force: true });
});

/** Runs a command that must fail; returns its --json error and its human message. */
async function refused(args: string[]): Promise<{ body: Record<string, unknown>; message: string }> {
  const json = await cli([...args, '--json'], env);
  expect({ code: json.code, stdout: json.stdout }).toEqual({ code: 1, stdout: '' });
  const human = await cli(args, env);
  expect(human.code).toBe(1);
  return { body: JSON.parse(json.stderr) as Record<string, unknown>, message: human.stderr };
}

const createOrganization = (name: string) => cliJson<OrganizationView>(['organization', 'create', '--name', name], env);

describe('organization create, list, show, update, delete', () => {
  test('a round trip, each step read back as JSON', async () => {
    const created = await cliJson<OrganizationView>(['organization', 'create', '--name', 'Acme', '--description', 'Anvils'], env);
    expect(created).toMatchObject({ name: 'Acme', description: 'Anvils', created_by: null });
    expect(created.resource).toBe(`urn:portcullis:organization:${created.id}`);

    expect((await cliJson<OrganizationView[]>(['organization', 'list'], env)).find((entry) => entry.id === created.id)).toEqual(created);
    expect(await cliJson(['organization', 'show', created.id], env)).toEqual({ ...created, members: 0 });
    expect((await cli(['organization', 'show', created.id], env)).stdout).toMatch(/^resource:\s+urn:portcullis:organization:/m);

    const renamed = await cliJson<OrganizationView>(['organization', 'update', created.id, '--name', 'Acme Corp'], env);
    expect(renamed).toMatchObject({ name: 'Acme Corp', description: 'Anvils' });
    expect(await cliJson(['organization', 'update', created.id, '--description', ''], env)).toMatchObject({ description: null });
    const empty = await refused(['organization', 'update', created.id, '--name', ' ']);
    expect(empty.body).toMatchObject({ error: 'invalid_input', field: 'name' });
    expect(empty.message).toBe('portcullis: name (--name): is required\n');

    expect(await cliJson(['organization', 'delete', created.id], env)).toEqual({ id: created.id, deleted: true });
    expect((await refused(['organization', 'show', created.id])).body).toMatchObject({ error: 'not_found' });
    expect(await running.db.prisma.organization.count({ where: { id: created.id } })).toBe(0);
  });
});

describe('organization role: the template', () => {
  test('create, list, show, update and delete', async () => {
    const created = await cliJson<OrganizationRoleView>(
      ['organization', 'role', 'create', 'billing', '--permission', `${CRM}:contacts:read`, '--description', 'Pays'],
      env,
    );
    expect(created).toMatchObject({ name: 'billing', description: 'Pays', manage_keys: false, permissions: [`${CRM}:contacts:read`] });
    const listed = await cliJson<OrganizationRoleView[]>(['organization', 'role', 'list'], env);
    expect(listed.map((role) => role.name)).toEqual(['admin', 'billing', 'viewer']);
    expect(listed.find((role) => role.name === 'admin')).toMatchObject({ manage_keys: true, permissions: [`${CRM}:contacts:write`] });
    expect(await cliJson(['organization', 'role', 'show', 'billing'], env)).toEqual(created);

    const changed = await cliJson<OrganizationRoleView>(
      ['organization', 'role', 'update', 'billing', '--manage-keys', '--permission', `${CRM}:contacts:write`],
      env,
    );
    expect(changed).toMatchObject({ description: 'Pays', manage_keys: true, permissions: [`${CRM}:contacts:write`] });
    expect(
      await cliJson(['organization', 'role', 'update', 'billing', '--no-manage-keys', '--no-permissions', '--description', ''], env),
    ).toMatchObject({ description: null, manage_keys: false, permissions: [] });

    expect(await cliJson(['organization', 'role', 'delete', 'billing'], env)).toEqual({ name: 'billing', deleted: true });
    expect((await refused(['organization', 'role', 'show', 'billing'])).body).toMatchObject({ error: 'not_found' });
  });

  test('a permission naming no registered API is refused, naming the field and --permission', async () => {
    const refusal = await refused(['organization', 'role', 'create', 'ghost', '--permission', 'https://nowhere.example.com:read']);
    expect(refusal.body).toMatchObject({ error: 'invalid_input', field: 'permissions[0]' });
    expect(refusal.message).toMatch(/^portcullis: permissions\[0\] \(--permission\): https:\/\/nowhere\.example\.com:read does not begin/);
    expect(await running.db.prisma.organizationRole.findUnique({ where: { name: 'ghost' } })).toBeNull();
  });
});

describe('organization member', () => {
  test('add (by email or id), list, set roles, remove', async () => {
    const org = await createOrganization('Members Inc');
    const added = await cliJson<MemberView>(
      ['organization', 'member', 'add', org.id, '--user', 'ada@example.com', '--role', 'viewer', '--role', 'admin'],
      env,
    );
    expect(added).toMatchObject({ user_id: ada, email: 'ada@example.com', roles: ['admin', 'viewer'] });
    await cliJson(['organization', 'member', 'add', org.id, '--user', bob], env);
    const members = await cliJson<MemberView[]>(['organization', 'member', 'list', org.id], env);
    expect(members.map(({ user_id: user, roles }) => ({ user, roles }))).toEqual([
      { user: ada, roles: ['admin', 'viewer'] },
      { user: bob, roles: [] },
    ]);
    expect(await cliJson(['organization', 'show', org.id], env)).toMatchObject({ members: 2 });
    expect(await running.services.organizations.organizationsOf(ada)).toEqual([
      { id: org.id, name: 'Members Inc', roles: ['admin', 'viewer'], manage_keys: true },
    ]);

    // Set whole: these roles and only these.
    expect(await cliJson(['organization', 'member', 'roles', org.id, '--user', ada, '--role', 'viewer'], env)).toMatchObject({
      roles: ['viewer'],
    });
    expect(await cliJson(['organization', 'member', 'roles', org.id, '--user', bob, '--no-roles'], env)).toMatchObject({ roles: [] });
    const unsaid = await refused(['organization', 'member', 'roles', org.id, '--user', ada]);
    expect(unsaid.message).toBe('portcullis: roles (--role): give the roles (--role, repeat), or --no-roles for none\n');
    expect(await running.db.prisma.organizationMemberRole.count({ where: { organizationId: org.id, userId: ada } })).toBe(1);

    expect(await cliJson(['organization', 'member', 'remove', org.id, '--user', 'bob@example.com'], env)).toEqual({
      organization_id: org.id,
      user_id: bob,
      removed: true,
    });
    expect((await cliJson<MemberView[]>(['organization', 'member', 'list', org.id], env)).map((member) => member.user_id)).toEqual([ada]);
    expect((await refused(['organization', 'member', 'remove', org.id, '--user', bob])).body).toMatchObject({ error: 'not_found' });
  });

  test('an unknown person, an unknown role or a second add is refused, naming the field and the flag', async () => {
    const org = await createOrganization('Refusals Ltd');
    const nobody = await refused(['organization', 'member', 'add', org.id, '--user', 'no-such-user', '--role', 'viewer']);
    expect(nobody.body).toMatchObject({ error: 'invalid_input', field: 'user_id' });
    expect(nobody.message).toBe('portcullis: user_id (--user): no user has the id no-such-user\n');
    const noRole = await refused(['organization', 'member', 'add', org.id, '--user', ada, '--role', 'viewer', '--role', 'owner']);
    expect(noRole.body).toMatchObject({ field: 'roles[1]' });
    expect(noRole.message).toBe('portcullis: roles[1] (--role): owner is not an organization role\n');
    expect(await running.db.prisma.organizationMember.count({ where: { organizationId: org.id } })).toBe(0);

    await cliJson(['organization', 'member', 'add', org.id, '--user', ada], env);
    expect((await refused(['organization', 'member', 'add', org.id, '--user', ada])).body).toMatchObject({ error: 'conflict' });
    expect((await refused(['organization', 'member', 'list', 'no-such-organization'])).body).toMatchObject({ error: 'not_found' });
  });
});

describe('organization invite and invitation', () => {
  /** The mails of one purpose that reached the outbox folder, raw. */
  const invitationMails = () =>
    fs
      .readdirSync(outbox)
      .filter((file) => file.includes('organization-invitation'))
      .map((file) => fs.readFileSync(path.join(outbox, file), 'utf8'));

  test('an invitation mails a link that the service accepts; revoked, the link stops working', async () => {
    const org = await createOrganization('Invites GmbH');
    const before = invitationMails().length;
    const invited = await cliJson<InvitationView>(
      ['organization', 'invite', org.id, '--email', 'Grace@Example.com', '--role', 'viewer', '--expires-in', '2h'],
      env,
    );
    expect(invited).toMatchObject({ organization_id: org.id, email: 'grace@example.com', roles: ['viewer'], revoked_at: null });
    const lifetime = Date.parse(invited.expires_at) - Date.now();
    expect(lifetime).toBeGreaterThan(7_100_000);
    expect(lifetime).toBeLessThanOrEqual(7_200_000);

    const mails = invitationMails();
    expect(mails).toHaveLength(before + 1);
    const mail = mails.find((raw) => /^To: grace@example\.com$/im.test(raw));
    expect(mail).toBeDefined();
    // Quoted-printable soft breaks and `=` written as =3D, undone.
    const text = mail!.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    const token = /http:\/\/127\.0\.0\.1:3000\/organization-invitation\?token=([A-Za-z0-9_-]+)/.exec(text)?.[1];
    expect(token).toBeDefined();
    expect(await running.services.organizations.checkInvitation(token)).toEqual({
      ok: true,
      invitation: {
        id: invited.id,
        organizationId: org.id,
        organizationName: 'Invites GmbH',
        email: 'grace@example.com',
        roles: ['viewer'],
      },
    });
    // Nothing of the link is kept but its keyed hash.
    expect(JSON.stringify(await running.db.prisma.organizationInvitation.findMany())).not.toContain(token);

    const listed = await cliJson<InvitationView[]>(['organization', 'invitation', 'list', org.id], env);
    expect(listed).toEqual([invited]);
    expect(await cliJson(['organization', 'invitation', 'revoke', org.id, invited.id], env)).toEqual({
      id: invited.id,
      organization_id: org.id,
      revoked: true,
    });
    expect((await cliJson<InvitationView[]>(['organization', 'invitation', 'list', org.id], env))[0]!.revoked_at).not.toBeNull();
    expect(await running.services.organizations.checkInvitation(token)).toEqual({ ok: false, reason: 'unknown' });
    expect((await refused(['organization', 'invitation', 'revoke', org.id, invited.id])).body).toMatchObject({ error: 'not_found' });
  });

  test('a bad lifetime, address or role is refused, naming the field and the flag; no mail is written', async () => {
    const org = await createOrganization('Careful AG');
    const before = invitationMails().length;
    const short = await refused(['organization', 'invite', org.id, '--email', 'x@example.com', '--expires-in', '10m']);
    expect(short.body).toMatchObject({ error: 'invalid_input', field: 'expires_in_seconds' });
    expect(short.message).toBe('portcullis: expires_in_seconds (--expires-in): must be from 1 hour to 30 days\n');
    expect((await refused(['organization', 'invite', org.id, '--email', 'not-an-address'])).message).toMatch(
      /^portcullis: email \(--email\): /,
    );
    expect((await refused(['organization', 'invite', org.id, '--email', 'x@example.com', '--role', 'owner'])).body).toMatchObject({
      field: 'roles[0]',
    });
    expect(invitationMails()).toHaveLength(before);
    expect(await cliJson(['organization', 'invitation', 'list', org.id], env)).toEqual([]);
  });
});

describe('clients and API keys of an organization', () => {
  test('client --organization: an unknown organization is refused; a known one is stored, and --no-organization clears it', async () => {
    const unknown = await refused([
      'client',
      'create',
      '--name',
      'tenant-svc',
      '--grant',
      'client_credentials',
      '--organization',
      'no-such-org',
    ]);
    expect(unknown.body).toMatchObject({ error: 'invalid_input', field: 'organization_id' });
    expect(unknown.message).toBe('portcullis: organization_id (--organization): no organization has the id no-such-org\n');

    const org = await createOrganization('Tenant Co');
    const { client_id: clientId } = await cliJson<{ client_id: string }>(
      ['client', 'create', '--name', 'tenant-svc', '--grant', 'client_credentials', '--organization', org.id],
      env,
    );
    expect(await cliJson(['client', 'show', clientId], env)).toMatchObject({ organization_id: org.id });
    // An organization a client belongs to stays.
    expect((await refused(['organization', 'delete', org.id])).body).toMatchObject({ error: 'conflict' });

    expect((await refused(['client', 'update', clientId, '--organization', 'no-such-org'])).body).toMatchObject({
      field: 'organization_id',
    });
    expect(await cliJson(['client', 'update', clientId, '--no-organization'], env)).toMatchObject({ organization_id: null });
    expect(await cliJson(['client', 'update', clientId, '--organization', org.id], env)).toMatchObject({ organization_id: org.id });
    expect(await running.db.prisma.client.findUnique({ where: { id: clientId } })).toMatchObject({ organizationId: org.id });
  });

  test('apikey --organization: the key is the organization’s; an unknown one is refused; a live key keeps the organization', async () => {
    const org = await createOrganization('Keys Ltd');
    const unknown = await refused([
      'apikey',
      'create',
      '--name',
      'k',
      '--scope',
      'contacts:read',
      '--audience',
      CRM,
      '--organization',
      'nope',
    ]);
    expect(unknown.body).toMatchObject({ error: 'invalid_input', field: 'organization_id' });
    expect(unknown.message).toBe('portcullis: organization_id (--organization): no organization has the id nope\n');
    const otherOwner = await refused([
      'apikey',
      'create',
      '--name',
      'k',
      '--scope',
      'contacts:read',
      '--audience',
      CRM,
      '--organization',
      org.id,
      '--owner-user',
      ada,
    ]);
    expect(otherOwner.message).toBe("portcullis: owner_user_id (--owner-user): an organization's key has no other owner\n");

    const key = await cliJson<{ id: string; organization_id: string | null }>(
      ['apikey', 'create', '--name', 'tenant key', '--scope', 'contacts:read', '--audience', CRM, '--organization', org.id],
      env,
    );
    expect(key.organization_id).toBe(org.id);
    const listed = await cliJson<{ id: string; organization_id: string | null }[]>(['apikey', 'list'], env);
    expect(listed.find((entry) => entry.id === key.id)).toMatchObject({ organization_id: org.id });

    expect((await refused(['organization', 'delete', org.id])).body).toMatchObject({ error: 'conflict' });
    await cliJson(['apikey', 'revoke', key.id], env);
    expect(await cliJson(['organization', 'delete', org.id], env)).toEqual({ id: org.id, deleted: true });
  });
});
