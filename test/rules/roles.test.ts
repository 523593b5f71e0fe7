// The rules of roles and organizations, table by table, on a fresh database without HTTP: what a
// permission may name, who an assignment may name, default roles for every way an account is
// made, what goes when a person or client goes, and the refusals of the organization service.
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { eventsOf, refusedField, startServices, type TestServices } from '../support/services.ts';

const NOTES = 'https://notes.example.com';
const V2 = 'https://notes.example.com/v2';
let running: TestServices;
const services = () => running.services;
let people = 0;
const newPerson = async () => {
  people += 1;
  return services().users.create({ email: `someone${people}@example.com`, password: 'a long enough passphrase' }, CLI_ACTOR);
};

beforeAll(async () => {
  running = await startServices({ SIGNUP: 'open' });
  await services().resources.create({ audience: NOTES, scope: 'notes:read notes:write', rbac: true }, CLI_ACTOR);
  await services().resources.create({ audience: V2, scope: 'read' }, CLI_ACTOR);
});
afterAll(() => running.stop());

describe('permissions', () => {
  test.each([
    [[`${NOTES}:notes:read`], undefined],
    // The longest audience wins: https://notes.example.com/v2 is not https://notes.example.com with scope "/v2:read".
    [[`${V2}:read`], undefined],
    [[`${NOTES}:notes:delete`], 'permissions[0]'],
    [[`${NOTES}:notes:read`, 'https://elsewhere.example.com:read'], 'permissions[1]'],
    [['notes:read'], 'permissions[0]'],
    [[`${NOTES}:`], 'permissions[0]'],
  ])('%j → %s', async (permissions, field) => {
    people += 1;
    expect(await refusedField(services().roles.create({ name: `r${people}`, permissions }, CLI_ACTOR))).toBe(field);
  });

  test('a role lists its permissions sorted and once each, in the wire form', async () => {
    const role = await services().roles.create(
      { name: 'sorted', permissions: [`${NOTES}:notes:write`, `${V2}:read`, `${NOTES}:notes:write`, `${NOTES}:notes:read`] },
      CLI_ACTOR,
    );
    expect(role.permissions).toEqual([`${V2}:read`, `${NOTES}:notes:read`, `${NOTES}:notes:write`]);
  });

  test('a name is refused twice and when it is not a name', async () => {
    await services().roles.create({ name: 'twice' }, CLI_ACTOR);
    await expect(services().roles.create({ name: 'twice' }, CLI_ACTOR)).rejects.toMatchObject({ status: 409 });
    expect(await refusedField(services().roles.create({ name: 'has space' }, CLI_ACTOR))).toBe('name');
    expect(await refusedField(services().roles.create({ name: '' }, CLI_ACTOR))).toBe('name');
  });
});

describe('assignments', () => {
  beforeAll(() => services().roles.create({ name: 'reader', permissions: [`${NOTES}:notes:read`] }, CLI_ACTOR));

  test.each([
    [{ user_id: 'nobody' }, 'user_id'],
    [{ client_id: 'nothing' }, 'client_id'],
    [{}, 'user_id'],
    [{ user_id: 'a', client_id: 'b' }, 'client_id'],
  ])('%j → %s', async (holder, field) => {
    expect(await refusedField(services().roles.assign('reader', holder, CLI_ACTOR))).toBe(field);
  });

  test('an unknown role is not found; assigning twice records once; unassigning what is not held records nothing', async () => {
    const { id } = await newPerson();
    await expect(services().roles.assign('ghost', { user_id: id }, CLI_ACTOR)).rejects.toMatchObject({ status: 404 });
    const events = await eventsOf(running, async () => {
      expect(await services().roles.assign('reader', { user_id: id }, CLI_ACTOR)).toEqual({ assigned: true });
      expect(await services().roles.assign('reader', { user_id: id }, CLI_ACTOR)).toEqual({ assigned: false });
      expect(await services().roles.unassign('reader', { user_id: id }, CLI_ACTOR)).toEqual({ unassigned: true });
      expect(await services().roles.unassign('reader', { user_id: id }, CLI_ACTOR)).toEqual({ unassigned: false });
    });
    expect(events.map((event) => event.type)).toEqual(['role.assigned', 'role.unassigned']);
    expect(events[0]).toMatchObject({ subject: 'reader', actorType: 'admin', details: { user_id: id } });
  });

  test('what a person holds is seen at once on this instance after a change', async () => {
    const { id } = await newPerson();
    expect(await services().roles.namesOf({ type: 'user', id })).toEqual([]);
    await services().roles.assign('reader', { user_id: id }, CLI_ACTOR);
    expect(await services().roles.namesOf({ type: 'user', id })).toEqual(['reader']);
    await services().roles.update('reader', { permissions: [`${NOTES}:notes:read`, `${NOTES}:notes:write`] }, CLI_ACTOR);
    expect((await services().roles.heldBy({ type: 'user', id }))[0]!.permissions).toHaveLength(2);
    await services().roles.delete('reader', CLI_ACTOR);
    expect(await services().roles.namesOf({ type: 'user', id })).toEqual([]);
  });
});

describe('default roles', () => {
  test('every way an account is made gives the default roles, each an audit event by the system', async () => {
    await services().roles.create({ name: 'newcomer', default: true, permissions: [`${NOTES}:notes:read`] }, CLI_ACTOR);
    const made = await newPerson();
    expect(await services().roles.namesOf({ type: 'user', id: made.id })).toEqual(['newcomer']);
    const event = await running.db.prisma.auditEvent.findFirst({
      where: { type: 'role.assigned', details: { not: undefined } },
      orderBy: { at: 'desc' },
    });
    expect(event).toMatchObject({ actorType: 'system', subject: 'newcomer' });

    // Sign-up: the account is made at once (unverified), with the default roles.
    await services().selfService.signUp(
      { email: 'signup@example.com', password: 'a long enough passphrase' },
      { ip: '127.0.0.1', lang: 'en' },
    );
    // The sign-up is an intent the outbox resolves just after the answer.
    let signedUp = null;
    for (let tries = 0; tries < 50 && !signedUp; tries += 1) {
      signedUp = await running.db.prisma.user.findUnique({ where: { email: 'signup@example.com' } });
      if (!signedUp) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(signedUp).not.toBeNull();
    expect(await services().roles.namesOf({ type: 'user', id: signedUp!.id })).toEqual(['newcomer']);

    // Not default any more: accounts made from now on do not get it; those that have it keep it.
    await services().roles.update('newcomer', { default: false }, CLI_ACTOR);
    const later = await newPerson();
    expect(await services().roles.namesOf({ type: 'user', id: later.id })).toEqual([]);
    expect(await services().roles.namesOf({ type: 'user', id: made.id })).toEqual(['newcomer']);
  });
});

describe('what goes with its API', () => {
  test('a scope an API no longer has, or the API itself, goes out of every role and organization role', async () => {
    const audience = 'https://shrinking.example.com';
    await services().resources.create({ audience, scope: 'a b' }, CLI_ACTOR);
    await services().roles.create({ name: 'shrinks', permissions: [`${audience}:a`, `${audience}:b`] }, CLI_ACTOR);
    await services().organizations.createRole({ name: 'shrinks-too', permissions: [`${audience}:b`] }, CLI_ACTOR);
    const events = await eventsOf(running, () => services().resources.replace({ audience, scope: 'a' }, CLI_ACTOR));
    expect((await services().roles.show('shrinks')).permissions).toEqual([`${audience}:a`]);
    expect((await services().organizations.showRole('shrinks-too')).permissions).toEqual([]);
    expect(events[0]).toMatchObject({ type: 'resource.updated', details: expect.objectContaining({ role_permissions_removed: 2 }) });
    // What export writes of the role applies again: nothing names a scope that is gone.
    expect(
      await refusedField(
        services().roles.update('shrinks', { permissions: (await services().roles.show('shrinks')).permissions }, CLI_ACTOR),
      ),
    ).toBeUndefined();
    await services().resources.delete({ audience }, CLI_ACTOR);
    expect((await services().roles.show('shrinks')).permissions).toEqual([]);
  });
});

describe('what goes with its holder', () => {
  test("a deleted person's roles and memberships, a deleted client's roles", async () => {
    await services().roles.create({ name: 'holder' }, CLI_ACTOR);
    const { id } = await newPerson();
    const organization = await services().organizations.create({ name: 'Temp' }, CLI_ACTOR);
    await services().organizations.addMember(organization.id, { user_id: id }, CLI_ACTOR);
    await services().roles.assign('holder', { user_id: id }, CLI_ACTOR);
    await services().ownAccount.deletion.deleteAccount(id, { type: 'user', id });
    expect(await running.db.prisma.userRole.count({ where: { userId: id } })).toBe(0);
    expect(await running.db.prisma.organizationMember.count({ where: { userId: id } })).toBe(0);

    const made = await services().clients.create({ name: 'svc', grant_types: ['client_credentials'], scope: 'notes:read' }, CLI_ACTOR);
    await services().roles.assign('holder', { client_id: made.client_id }, CLI_ACTOR);
    await services().clients.delete(made.client_id, CLI_ACTOR);
    expect(await running.db.prisma.clientRole.count({ where: { clientId: made.client_id } })).toBe(0);
  });
});

describe('organizations', () => {
  test('the template, members and their refusals', async () => {
    expect(await refusedField(services().organizations.createRole({ name: 'x', permissions: ['nope:read'] }, CLI_ACTOR))).toBe(
      'permissions[0]',
    );
    await services().organizations.createRole({ name: 'member', permissions: [`${NOTES}:notes:read`] }, CLI_ACTOR);
    const organization = await services().organizations.create({ name: 'Acme' }, CLI_ACTOR);
    expect(organization.resource).toBe(`urn:portcullis:organization:${organization.id}`);
    expect(await refusedField(services().organizations.addMember(organization.id, { user_id: 'nobody' }, CLI_ACTOR))).toBe('user_id');
    const { id } = await newPerson();
    expect(await refusedField(services().organizations.addMember(organization.id, { user_id: id, roles: ['ghost'] }, CLI_ACTOR))).toBe(
      'roles[0]',
    );
    await services().organizations.addMember(organization.id, { user_id: id, roles: ['member'] }, CLI_ACTOR);
    await expect(services().organizations.addMember(organization.id, { user_id: id }, CLI_ACTOR)).rejects.toMatchObject({ status: 409 });
    expect(await services().organizations.membership(id, organization.id)).toMatchObject({
      roles: ['member'],
      permissions: [{ audience: NOTES, scope: 'notes:read' }],
      manageKeys: false,
    });
    expect(await services().organizations.organizationsOf(id)).toEqual([
      { id: organization.id, name: 'Acme', roles: ['member'], manage_keys: false },
    ]);
    await expect(services().organizations.removeMember(organization.id, 'nobody', CLI_ACTOR)).rejects.toMatchObject({ status: 404 });
    await expect(services().organizations.show('nope')).rejects.toMatchObject({ status: 404 });
    // A person may not make one unless the operator allows it.
    await expect(services().organizations.create({ name: 'Mine' }, { type: 'user', id })).rejects.toMatchObject({ status: 403 });
    // An invitation's address must be one.
    expect(await refusedField(services().organizations.invite(organization.id, { email: 'not an address' }, CLI_ACTOR))).toBe('email');
    // A member who does not manage it may not invite (the organization is not found for them).
    await expect(services().organizations.invite(organization.id, { email: 'x@example.com' }, { type: 'user', id })).rejects.toMatchObject({
      status: 404,
    });
  });

  test('with ORGANIZATION_CREATION=people, the maker is its first member with the owner roles', async () => {
    const open = await startServices({ ORGANIZATION_CREATION: 'people' });
    try {
      await open.services.resources.create({ audience: NOTES, scope: 'notes:read' }, CLI_ACTOR);
      await open.services.organizations.createRole({ name: 'owner', manage_keys: true }, CLI_ACTOR);
      const { id } = await open.services.users.create({ email: 'maker@example.com', password: 'a long enough passphrase' }, CLI_ACTOR);
      const made = await open.services.organizations.create({ name: 'Mine' }, { type: 'user', id }, ['owner']);
      expect(made.created_by).toBe(id);
      expect(await open.services.organizations.membership(id, made.id)).toMatchObject({ roles: ['owner'], manageKeys: true });
    } finally {
      await open.stop();
    }
  });
});
