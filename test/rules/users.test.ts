// The rules of the user service, without HTTP: what an email and a password may be (each refusal
// names the field as the wire spells it), and one audit event per change carrying who made it.
import type { Actor } from '../../src/audit/index.ts';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../../src/users/index.ts';
import { eventsOf as auditEventsOf, startServices, type TestServices } from '../support/services.ts';

const ADMIN: Actor = { type: 'admin', id: 'ops-console', ip: '192.0.2.10' };
const PASSWORD = 'a long enough passphrase';

let running: TestServices;
beforeAll(async () => {
  running = await startServices();
});
afterAll(() => running.stop());

let made = 0;
/** A fresh address for each user a test makes. */
const nextEmail = () => `person${(made += 1)}@example.com`;
const newUser = async () => (await running.services.users.create({ email: nextEmail(), password: PASSWORD }, ADMIN)).id;

const eventsOf = (change: () => Promise<unknown>) => auditEventsOf(running, change);

describe('an email', () => {
  test.each([
    ['without an @', 'ada.example.com'],
    ['with two @', 'ada@lovelace@example.com'],
    ['with a space', 'ada lovelace@example.com'],
    ['with a tab', 'ada\t@example.com'],
    ['with nothing before the @', '@example.com'],
    ['with nothing after the @', 'ada@'],
    ['of 321 characters', `${'a'.repeat(309)}@example.com`],
    ['with a control character', 'ada\u0001@example.com'],
    ['with a NUL', 'ada\u0000@example.com'],
    ['that is empty', ''],
    ['that is not text', 42],
    ['that is missing', undefined],
  ])('%s is refused, naming email', async (_case, email) => {
    await expect(running.services.users.create({ email, password: PASSWORD } as never, ADMIN)).rejects.toMatchObject({
      name: 'InputError',
      field: 'email',
    });
  });

  test.each([
    ['of 320 characters', `${'a'.repeat(308)}@example.com`, `${'a'.repeat(308)}@example.com`],
    ['in capitals with spaces around', '  Ada@Example.COM ', 'ada@example.com'],
  ])('%s is accepted and stored lower-case, trimmed', async (_case, email, stored) => {
    const { id } = await running.services.users.create({ email, password: PASSWORD }, ADMIN);
    expect((await running.services.users.findById(id))?.email).toBe(stored);
  });

  test('the same address in other capitals is a conflict', async () => {
    await running.services.users.create({ email: 'twin@example.com', password: PASSWORD }, ADMIN);
    await expect(running.services.users.create({ email: 'TWIN@example.com', password: PASSWORD }, ADMIN)).rejects.toMatchObject({
      name: 'ConflictError',
    });
  });
});

describe('a password', () => {
  test('the bounds are NIST SP 800-63B: 8 to 1024 characters', () => {
    expect([MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH]).toEqual([8, 1024]);
  });

  test.each([
    [7, 'refused'],
    [8, 'accepted'],
    [1024, 'accepted'],
    [1025, 'refused'],
  ])('of %i characters is %s, at creation and at a reset', async (length, outcome) => {
    const password = 'p'.repeat(length);
    const id = await newUser();
    const create = () => running.services.users.create({ email: nextEmail(), password }, ADMIN);
    const reset = () => running.services.users.resetPassword(id, { password }, ADMIN);
    if (outcome === 'accepted') {
      await expect(create()).resolves.toMatchObject({ id: expect.any(String) });
      await expect(reset()).resolves.toBeUndefined();
    } else {
      await expect(create()).rejects.toMatchObject({ name: 'InputError', field: 'password' });
      await expect(reset()).rejects.toMatchObject({ name: 'InputError', field: 'password' });
    }
  });

  test.each([
    ['missing', {}],
    ['not text', { password: 12345678 }],
  ])('%s is refused, naming password', async (_case, input) => {
    await expect(running.services.users.create({ email: nextEmail(), ...input } as never, ADMIN)).rejects.toMatchObject({
      field: 'password',
    });
    await expect(running.services.users.resetPassword(await newUser(), input as never, ADMIN)).rejects.toMatchObject({
      field: 'password',
    });
  });

  test('a reset replaces the password: the new one logs in, the old one no longer', async () => {
    const email = nextEmail();
    const { id } = await running.services.users.create({ email, password: PASSWORD }, ADMIN);
    await running.services.users.resetPassword(id, { password: 'another long passphrase' }, ADMIN);
    expect(await running.services.users.verifyLogin(email, 'another long passphrase')).toEqual({ id, email, emailVerified: true });
    expect(await running.services.users.verifyLogin(email, PASSWORD)).toBeUndefined();
  });
});

describe('other fields', () => {
  test.each([
    ['a name of 201 characters', 'name', { name: 'n'.repeat(201) }],
    ['a name with a control character', 'name', { name: 'Ada\u0007' }],
    ['an unknown field', 'colour', { colour: 'red' }],
  ])('%s is refused, naming %s', async (_case, field, extra) => {
    await expect(running.services.users.create({ email: nextEmail(), password: PASSWORD, ...extra }, ADMIN)).rejects.toMatchObject({
      name: 'InputError',
      field,
    });
  });

  test('a blank name is stored as none, a name trimmed', async () => {
    const blank = await running.services.users.create({ email: nextEmail(), password: PASSWORD, name: '   ' }, ADMIN);
    const named = await running.services.users.create({ email: nextEmail(), password: PASSWORD, name: ' Ada ' }, ADMIN);
    expect((await running.services.users.findById(blank.id))?.name).toBeNull();
    expect((await running.services.users.findById(named.id))?.name).toBe('Ada');
  });

  test.each([
    ['disabling', () => running.services.users.setDisabled('nobody', true, ADMIN)],
    ['resetting the password of', () => running.services.users.resetPassword('nobody', { password: PASSWORD }, ADMIN)],
    ['disabling, with a NUL,', () => running.services.users.setDisabled('no\u0000body', true, ADMIN)],
  ])('%s an unknown user is not found', async (_case, change) => {
    await expect(change()).rejects.toMatchObject({ name: 'NotFoundError' });
  });
});

describe('each change writes one audit event carrying the actor', () => {
  const actors: [string, Actor, { actorType: string; actorId: string | null; ip: string | null }][] = [
    ['the admin API', ADMIN, { actorType: 'admin', actorId: 'ops-console', ip: '192.0.2.10' }],
    ['the CLI', { type: 'admin' }, { actorType: 'admin', actorId: null, ip: null }],
    ['Portcullis itself', { type: 'system' }, { actorType: 'system', actorId: null, ip: null }],
  ];
  const changes: [string, (id: string, actor: Actor) => Promise<unknown>][] = [
    ['user.disabled', (id, actor) => running.services.users.setDisabled(id, true, actor)],
    ['user.enabled', (id, actor) => running.services.users.setDisabled(id, false, actor)],
    ['user.password_reset', (id, actor) => running.services.users.resetPassword(id, { password: 'a new long passphrase' }, actor)],
  ];

  test.each(actors)('user.created, by %s', async (_by, actor, expected) => {
    let id = '';
    const events = await eventsOf(async () => {
      ({ id } = await running.services.users.create({ email: nextEmail(), password: PASSWORD }, actor));
    });
    expect(events).toEqual([expect.objectContaining({ type: 'user.created', subject: id, outcome: 'success', ...expected })]);
  });

  test.each(changes.flatMap(([type, change]) => actors.map(([by, actor, expected]) => [type, by, change, actor, expected] as const)))(
    '%s, by %s',
    async (type, _by, change, actor, expected) => {
      const id = await newUser();
      const events = await eventsOf(() => change(id, actor));
      expect(events).toEqual([expect.objectContaining({ type, subject: id, outcome: 'success', ...expected })]);
    },
  );

  test('a refused change writes none', async () => {
    const id = await newUser();
    expect(await eventsOf(() => running.services.users.resetPassword(id, { password: 'short' }, ADMIN).catch(() => undefined))).toEqual([]);
  });
});
