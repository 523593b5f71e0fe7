// The rules of the API-key service, without HTTP: the bounds of a key's settings and the rules
// on its audiences and owners (each refusal names the field as the wire spells it), what a person
// may make and find for themselves, the lifetimes the developer page offers, and one audit event
// per change with its actor.
import crypto from 'node:crypto';
import type { Actor } from '../../src/audit/index.ts';
import { eventsOf as auditEventsOf, startServices, type TestServices } from '../support/services.ts';

const MAPS = 'https://maps.example.com';
const VAULT = 'https://vault.example.com';
const DAY = 86_400;
const ADMIN: Actor = { type: 'admin', id: 'ops-console', ip: '192.0.2.10' };

let running: TestServices;
let person: Actor & { type: 'user' };
let otherPerson: Actor & { type: 'user' };
let clientId: string;

beforeAll(async () => {
  running = await startServices();
  const { resources, users } = running.services;
  await resources.create({ audience: MAPS, scope: 'tiles:read tiles:write', personal_key_scope: 'tiles:read' }, ADMIN);
  await resources.create({ audience: VAULT, scope: 'vault:open' }, ADMIN);
  const ada = await users.create({ email: 'ada@example.com', password: 'a long enough passphrase' }, ADMIN);
  const bob = await users.create({ email: 'bob@example.com', password: 'a long enough passphrase' }, ADMIN);
  person = { type: 'user', id: ada.id, ip: '198.51.100.7' };
  otherPerson = { type: 'user', id: bob.id };
  // Only its existence matters to a key, so the row is written directly.
  clientId = crypto.randomUUID();
  await running.db.prisma.client.create({ data: { id: clientId, name: 'exporter', metadata: {} } });
});
afterAll(() => running.stop());

const create = (input: Record<string, unknown>, actor: Actor = ADMIN) =>
  running.services.apiKeys.create({ name: 'a key', scope: 'tiles:read', ...input }, actor);
const personal = (input: Record<string, unknown> = {}) => create({ audiences: [MAPS], ...input }, person);

/** Seconds from now until an ISO instant. */
const secondsUntil = (instant: string | null) => (instant === null ? Infinity : (Date.parse(instant) - Date.now()) / 1000);

const eventsOf = (change: () => Promise<unknown>) => auditEventsOf(running, change);

describe('an administrator creating a key', () => {
  test.each([
    ['no name', 'name', { name: undefined }],
    ['an empty name', 'name', { name: '' }],
    ['a blank name', 'name', { name: '   ' }],
    ['a name of 201 characters', 'name', { name: 'n'.repeat(201) }],
    ['a name with a NUL', 'name', { name: 'k\u0000' }],
    ['no scope', 'scope', { scope: '' }],
    ['a scope with a quote', 'scope', { scope: 'tiles:read "x"' }],
    ['a scope outside its audiences', 'scope', { scope: 'vault:open', audiences: [MAPS] }],
    ['an unknown audience', 'audiences', { audiences: ['https://nowhere.example.com'] }],
    ['an empty audience', 'audiences', { audiences: [''] }],
    ['audiences that are not a list', 'audiences', { audiences: MAPS }],
    ['a lifetime of 59 seconds', 'expires_in_seconds', { expires_in_seconds: 59 }],
    ['a lifetime of five years and a second', 'expires_in_seconds', { expires_in_seconds: 5 * 365 * DAY + 1 }],
    ['a lifetime that is not whole', 'expires_in_seconds', { expires_in_seconds: 60.5 }],
    ['a lifetime as text', 'expires_in_seconds', { expires_in_seconds: '3600' }],
    ['a rate that is not one', 'rate_limit', { rate_limit: 'lots' }],
    ['a rate of no requests', 'rate_limit', { rate_limit: '0/1m' }],
    ['a rate over more than a day', 'rate_limit', { rate_limit: '10/2d' }],
    ['a rate of 41 characters', 'rate_limit', { rate_limit: `1/${'1'.repeat(39)}` }],
    ['an unknown owner', 'owner_user_id', { owner_user_id: 'ghost' }],
    ['an owner with a NUL', 'owner_user_id', { owner_user_id: 'u\u0000' }],
    ['an unknown owning client', 'owner_client_id', { owner_client_id: 'ghost' }],
    ['an unknown field', 'colour', { colour: 'red' }],
  ])('%s is refused, naming %s', async (_case, field, input) => {
    await expect(create(input)).rejects.toMatchObject({ name: 'InputError', field });
  });

  test('an empty owner or rate limit means none, as the admin API has always read it', async () => {
    const key = await create({ owner_user_id: '', owner_client_id: '', rate_limit: '' });
    expect(key).toMatchObject({ owner: null, rate_limit: null, expires_at: null });
  });

  test('two owners are refused, naming owner_client_id', async () => {
    await expect(create({ owner_user_id: person.id, owner_client_id: clientId })).rejects.toMatchObject({
      name: 'InputError',
      field: 'owner_client_id',
    });
  });

  test.each([
    ['a minute', 60],
    ['five years', 5 * 365 * DAY],
  ])('a lifetime of %s is accepted', async (_case, seconds) => {
    const key = await create({ expires_in_seconds: seconds });
    expect(secondsUntil(key.expires_at)).toBeGreaterThan(seconds - 5);
    expect(secondsUntil(key.expires_at)).toBeLessThanOrEqual(seconds);
  });

  test('without a lifetime or an owner, a key does not expire; with a client owner neither', async () => {
    expect((await create({})).expires_at).toBeNull();
    const owned = await create({ owner_client_id: clientId });
    expect(owned).toMatchObject({ owner: { type: 'client', id: clientId }, expires_at: null });
  });

  test('settings are normalised: a rate in seconds, scopes and audiences once each, the name trimmed', async () => {
    const key = await create({ name: ' nightly ', scope: 'tiles:read tiles:read', audiences: [MAPS, MAPS], rate_limit: '100/1m' });
    expect(key).toMatchObject({ name: 'nightly', scope: 'tiles:read', audiences: [MAPS], rate_limit: '100/60s', owner: null });
    expect(await running.services.apiKeys.verify(key.key)).toMatchObject({ ok: true });
  });

  test("a key made for a person follows a person's rules on lifetime, not on scopes", async () => {
    const key = await create({ scope: 'tiles:write', audiences: [MAPS], owner_user_id: person.id });
    expect(key.owner).toEqual({ type: 'user', id: person.id });
    expect(secondsUntil(key.expires_at)).toBeGreaterThan(90 * DAY - 5);
    expect(secondsUntil(key.expires_at)).toBeLessThanOrEqual(90 * DAY);
    await expect(create({ owner_user_id: person.id, expires_in_seconds: 366 * DAY })).rejects.toMatchObject({
      name: 'InputError',
      field: 'expires_in_seconds',
    });
  });
});

describe('a person creating a key of their own', () => {
  test.each([
    ['a scope beyond what people are offered', 'scope', { scope: 'tiles:write' }],
    ['no audience', 'audiences', { audiences: [] }],
    ['an API that offers people nothing', 'audiences', { audiences: [VAULT], scope: 'vault:open' }],
    ['an unknown audience', 'audiences', { audiences: ['https://nowhere.example.com'] }],
    ['another owner', 'owner_user_id', { owner_user_id: 'someone-else' }],
    ['a client as owner', 'owner_client_id', { owner_client_id: 'a-client' }],
    ['a lifetime past USER_API_KEY_MAX_DAYS', 'expires_in_seconds', { expires_in_seconds: 365 * DAY + 1 }],
  ])('%s is refused, naming %s', async (_case, field, input) => {
    await expect(personal(input)).rejects.toMatchObject({ name: 'InputError', field });
  });

  test('another person as owner is refused even when that person exists', async () => {
    await expect(personal({ owner_user_id: otherPerson.id })).rejects.toMatchObject({ name: 'InputError', field: 'owner_user_id' });
  });

  test('the key is theirs, named or not, and lives USER_API_KEY_DEFAULT_DAYS unless chosen', async () => {
    const unnamed = await personal();
    const named = await personal({ owner_user_id: person.id });
    for (const key of [unnamed, named]) {
      expect(key.owner).toEqual({ type: 'user', id: person.id });
      expect(secondsUntil(key.expires_at)).toBeGreaterThan(90 * DAY - 5);
      expect(secondsUntil(key.expires_at)).toBeLessThanOrEqual(90 * DAY);
    }
    const longest = await personal({ expires_in_seconds: 365 * DAY });
    expect(secondsUntil(longest.expires_at)).toBeGreaterThan(365 * DAY - 5);
  });
});

describe("revoking and rotating someone else's key", () => {
  const attempts: [string, (id: string, actor: Actor) => Promise<unknown>][] = [
    ['revoke', (id, actor) => running.services.apiKeys.revoke(id, actor)],
    ['rotate', (id, actor) => running.services.apiKeys.rotate(id, {}, actor)],
  ];
  const keysOf: [string, () => Promise<{ id: string }>][] = [
    ["another person's key", () => create({ audiences: [MAPS] }, otherPerson)],
    ["an administrator's key", () => create({})],
    ["a client's key", () => create({ owner_client_id: clientId })],
  ];

  test.each(attempts.flatMap(([what, attempt]) => keysOf.map(([whose, make]) => [what, whose, attempt, make] as const)))(
    'a person cannot %s %s: it is not found, and it still works',
    async (_what, _whose, attempt, make) => {
      const key = await make();
      const keys = await running.db.prisma.apiKey.count();
      await expect(attempt(key.id, person)).rejects.toMatchObject({ name: 'NotFoundError' });
      expect(await running.db.prisma.apiKey.findUniqueOrThrow({ where: { id: key.id } })).toMatchObject({ revokedAt: null });
      expect(await running.db.prisma.apiKey.count()).toBe(keys);
    },
  );

  test.each(attempts)('a person may %s their own key, and an administrator anyone’s', async (_what, attempt) => {
    await expect(attempt((await personal()).id, person)).resolves.toMatchObject({ owner: { type: 'user', id: person.id } });
    await expect(attempt((await personal()).id, ADMIN)).resolves.toMatchObject({ owner: { type: 'user', id: person.id } });
  });

  test.each(attempts)('%s of an unknown key is not found', async (_what, attempt) => {
    await expect(attempt(crypto.randomUUID(), ADMIN)).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(attempt('not-an-id', ADMIN)).rejects.toMatchObject({ name: 'NotFoundError' });
  });
});

describe('rotation', () => {
  test.each([
    ['a negative grace', { grace_seconds: -1 }],
    ['a grace of 90 days and a second', { grace_seconds: 90 * DAY + 1 }],
    ['a grace that is not whole', { grace_seconds: 1.5 }],
    ['an unknown field', { grace: 60 }],
  ])('%s is refused, naming the field', async (_case, input) => {
    const key = await create({});
    await expect(running.services.apiKeys.rotate(key.id, input as never, ADMIN)).rejects.toMatchObject({
      name: 'InputError',
      field: Object.keys(input)[0],
    });
  });

  test.each([
    ['one day unless told', {}, DAY],
    ['no grace', { grace_seconds: 0 }, 0],
    ['90 days at most', { grace_seconds: 90 * DAY }, 90 * DAY],
  ])('the old key keeps working for %s', async (_case, input, grace) => {
    const key = await create({});
    const rotated = await running.services.apiKeys.rotate(key.id, input, ADMIN);
    expect(secondsUntil(rotated.previous_key_expires_at)).toBeGreaterThan(grace - 5);
    expect(secondsUntil(rotated.previous_key_expires_at)).toBeLessThanOrEqual(grace);
  });

  test('a person rotating checks their rules again: a scope no longer offered is refused', async () => {
    const key = await create({ scope: 'tiles:write', audiences: [MAPS], owner_user_id: person.id });
    await expect(running.services.apiKeys.rotate(key.id, {}, person)).rejects.toMatchObject({ name: 'InputError', field: 'scope' });
  });
});

describe('the lifetimes offered to people', () => {
  test.each([
    [{}, [30, 90, 365], 90],
    [{ USER_API_KEY_DEFAULT_DAYS: '7', USER_API_KEY_MAX_DAYS: '30' }, [7, 30], 7],
    [{ USER_API_KEY_DEFAULT_DAYS: '60', USER_API_KEY_MAX_DAYS: '400' }, [30, 60, 90, 365, 400], 60],
    [{ USER_API_KEY_DEFAULT_DAYS: '365', USER_API_KEY_MAX_DAYS: '365' }, [30, 90, 365], 365],
    [{ USER_API_KEY_DEFAULT_DAYS: '10', USER_API_KEY_MAX_DAYS: '10' }, [10], 10],
  ])('with %j: %j, the default selected', async (env, days, selected) => {
    const configured = await startServices(env);
    try {
      expect(configured.services.apiKeys.personalKeyLifetimes()).toEqual(days.map((day) => ({ days: day, selected: day === selected })));
    } finally {
      await configured.stop();
    }
  });
});

describe('each change writes one audit event carrying the actor', () => {
  const actors: [string, () => Actor, { actorType: string; actorId: () => string | null; ip: string | null }][] = [
    ['the admin API', () => ADMIN, { actorType: 'admin', actorId: () => 'ops-console', ip: '192.0.2.10' }],
    ['the CLI', () => ({ type: 'admin' }), { actorType: 'admin', actorId: () => null, ip: null }],
    ['the person', () => person, { actorType: 'user', actorId: () => person.id, ip: '198.51.100.7' }],
  ];

  test.each(actors)('api_key.created, api_key.rotated and api_key.revoked, by %s', async (_by, actorOf, expected) => {
    const actor = actorOf();
    const by = { actorType: expected.actorType, actorId: expected.actorId(), ip: expected.ip, outcome: 'success' };
    let created = { id: '', display_prefix: '' };
    const creation = await eventsOf(async () => {
      created = await create({ audiences: [MAPS], owner_user_id: person.id }, actor);
    });
    expect(creation).toEqual([
      expect.objectContaining({ type: 'api_key.created', subject: created.id, details: { display_prefix: created.display_prefix }, ...by }),
    ]);
    let rotatedId = '';
    const rotation = await eventsOf(async () => {
      rotatedId = (await running.services.apiKeys.rotate(created.id, { grace_seconds: 60 }, actor)).id;
    });
    expect(rotation).toEqual([
      expect.objectContaining({ type: 'api_key.rotated', subject: created.id, details: { new_id: rotatedId, grace_seconds: 60 }, ...by }),
    ]);
    const revocation = await eventsOf(() => running.services.apiKeys.revoke(rotatedId, actor));
    expect(revocation).toEqual([expect.objectContaining({ type: 'api_key.revoked', subject: rotatedId, ...by })]);
  });

  test('a refused change writes none', async () => {
    expect(await eventsOf(() => personal({ scope: 'tiles:write' }).catch(() => undefined))).toEqual([]);
    const key = await create({});
    expect(await eventsOf(() => running.services.apiKeys.revoke(key.id, person).catch(() => undefined))).toEqual([]);
  });
});
