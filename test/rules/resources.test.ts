// The rules of the API-resource service, without HTTP: what an audience (RFC 8707), a token
// lifetime and the scopes offered to people may be (each refusal names the field as the wire
// spells it), which APIs the developer page offers, and one audit event per change with its actor.
import type { Actor } from '../../src/audit/index.ts';
import { ADMIN_SCOPES, adminAudience, DEFAULT_ACCESS_TOKEN_TTL } from '../../src/resources/index.ts';
import { eventsOf as auditEventsOf, startServices, type TestServices } from '../support/services.ts';

const ADMIN: Actor = { type: 'admin', id: 'ops-console', ip: '192.0.2.10' };

let running: TestServices;
beforeAll(async () => {
  running = await startServices();
});
afterAll(() => running.stop());

let made = 0;
/** A fresh audience for each API a test registers. */
const nextAudience = () => `https://api${(made += 1)}.example.com`;
const create = (input: Record<string, unknown>, actor: Actor = ADMIN) =>
  running.services.resources.create({ audience: nextAudience(), scope: 'read write', ...input }, actor);

const eventsOf = (change: () => Promise<unknown>) => auditEventsOf(running, change);

describe('creating an API', () => {
  test.each([
    ['an audience that is not a URI', 'audience', { audience: 'not-a-uri' }],
    ['an audience with a fragment', 'audience', { audience: 'https://a.example.com/#part' }],
    ['an audience with an empty fragment', 'audience', { audience: 'https://a.example.com/#' }],
    ['an empty audience', 'audience', { audience: '' }],
    ['an audience of 2001 characters', 'audience', { audience: `https://a.example.com/${'x'.repeat(1979)}` }],
    ['an audience with a control character', 'audience', { audience: 'https://a.example.com/\u0001' }],
    ['an audience that is not text', 'audience', { audience: 42 }],
    ['a scope with a quote', 'scope', { scope: 'read "write"' }],
    ['a ttl of 59 seconds', 'ttl', { ttl: 59 }],
    ['a ttl of 3601 seconds', 'ttl', { ttl: 3601 }],
    ['a ttl that is not whole', 'ttl', { ttl: 600.5 }],
    ['a ttl as text', 'ttl', { ttl: '600' }],
    ['a name of 201 characters', 'name', { name: 'n'.repeat(201) }],
    ['a name with a NUL', 'name', { name: 'A\u0000' }],
    ['personal scopes the API does not accept', 'personal_key_scope', { personal_key_scope: 'read delete' }],
    ['a personal scope with a quote', 'personal_key_scope', { personal_key_scope: '"read"' }],
    ['an unknown field', 'colour', { colour: 'red' }],
  ])('%s is refused, naming %s', async (_case, field, input) => {
    await expect(create(input)).rejects.toMatchObject({ name: 'InputError', field });
  });

  test.each([
    [60, 60],
    [3600, 3600],
    [undefined, DEFAULT_ACCESS_TOKEN_TTL],
  ])('a ttl of %s is accepted; the tokens live %i seconds', async (ttl, lives) => {
    const resource = await create(ttl === undefined ? {} : { ttl });
    expect(resource.access_token_ttl).toBe(lives);
    expect((await running.services.resources.findByAudience(resource.audience))?.access_token_ttl).toBe(lives);
  });

  test('the default lifetime is 15 minutes', () => {
    expect(DEFAULT_ACCESS_TOKEN_TTL).toBe(900);
  });

  test('scopes are normalised, a name trimmed, no personal scopes unless given', async () => {
    const resource = await create({ scope: 'read  write read', name: ' Billing ' });
    expect(resource).toMatchObject({ scope: 'read write', name: 'Billing', personal_key_scope: '' });
  });

  test('the same audience twice is a conflict', async () => {
    const audience = nextAudience();
    await create({ audience });
    await expect(create({ audience })).rejects.toMatchObject({ name: 'ConflictError' });
  });

  test("people can never be offered keys for Portcullis's own admin API", async () => {
    await expect(
      create({ audience: adminAudience(running.config.issuer), scope: ADMIN_SCOPES.read, personal_key_scope: ADMIN_SCOPES.read }),
    ).rejects.toMatchObject({ name: 'InputError', field: 'personal_key_scope' });
  });
});

describe('changing the scopes offered to people', () => {
  test('by id and by audience; empty withdraws them', async () => {
    const resource = await create({});
    const byId = await running.services.resources.update({ id: resource.id }, { personal_key_scope: 'write read read' }, ADMIN);
    expect(byId.personal_key_scope).toBe('write read');
    const byAudience = await running.services.resources.update({ audience: resource.audience }, { personal_key_scope: '' }, ADMIN);
    expect(byAudience.personal_key_scope).toBe('');
    expect((await running.services.resources.findByAudience(resource.audience))?.personal_key_scope).toBe('');
  });

  test.each([
    ['scopes the API does not accept', 'personal_key_scope', { personal_key_scope: 'delete' }],
    ['a scope with a control character', 'personal_key_scope', { personal_key_scope: 'read\u0001' }],
    ['no personal_key_scope', 'personal_key_scope', {}],
    ['an unknown field', 'ttl', { personal_key_scope: 'read', ttl: 60 }],
  ])('%s is refused, naming %s', async (_case, field, input) => {
    const resource = await create({});
    await expect(running.services.resources.update({ id: resource.id }, input as never, ADMIN)).rejects.toMatchObject({
      name: 'InputError',
      field,
    });
  });

  test("the admin API's scopes are never offered to people", async () => {
    const audience = adminAudience(running.config.issuer);
    await running.services.resources.ensure(audience, `${ADMIN_SCOPES.read} ${ADMIN_SCOPES.write}`, 'Portcullis admin API');
    await expect(running.services.resources.update({ audience }, { personal_key_scope: ADMIN_SCOPES.read }, ADMIN)).rejects.toMatchObject({
      name: 'InputError',
      field: 'personal_key_scope',
    });
  });

  test.each([
    ['an unknown id', { id: 'no-such-id' }],
    ['an unknown audience', { audience: 'https://nowhere.example.com' }],
    ['an id with a NUL', { id: 'a\u0000' }],
  ])('%s is not found', async (_case, selector) => {
    await expect(running.services.resources.update(selector, { personal_key_scope: '' }, ADMIN)).rejects.toMatchObject({
      name: 'NotFoundError',
    });
  });
});

describe('the APIs offered to people', () => {
  test('only those with scopes for people, each with those scopes', async () => {
    const offering = await create({ scope: 'tiles:read tiles:write', personal_key_scope: 'tiles:read' });
    const closed = await create({ scope: 'vault:open' });
    const withdrawn = await create({ scope: 'a b', personal_key_scope: 'a b' });
    const opened = await create({ scope: 'x y z' });
    await running.services.resources.update({ id: withdrawn.id }, { personal_key_scope: '' }, ADMIN);
    await running.services.resources.update({ id: opened.id }, { personal_key_scope: 'z x' }, ADMIN);
    const offered = await running.services.resources.offeredToPeople();
    const ids = offered.map((resource) => resource.id);
    expect(ids).toContain(offering.id);
    expect(ids).toContain(opened.id);
    expect(ids).not.toContain(closed.id);
    expect(ids).not.toContain(withdrawn.id);
    expect(offered.find((resource) => resource.id === offering.id)).toMatchObject({
      audience: offering.audience,
      personal_key_scope: 'tiles:read',
      personal_scopes: ['tiles:read'],
    });
    expect(offered.find((resource) => resource.id === opened.id)?.personal_scopes).toEqual(['z', 'x']);
    expect(offered.every((resource) => resource.personal_scopes.length > 0)).toBe(true);
  });
});

describe('each change writes one audit event carrying the actor', () => {
  const actors: [string, Actor, { actorType: string; actorId: string | null; ip: string | null }][] = [
    ['the admin API', ADMIN, { actorType: 'admin', actorId: 'ops-console', ip: '192.0.2.10' }],
    ['the CLI', { type: 'admin' }, { actorType: 'admin', actorId: null, ip: null }],
  ];

  test.each(actors)('resource.created, by %s', async (_by, actor, expected) => {
    const audience = nextAudience();
    const events = await eventsOf(() => running.services.resources.create({ audience, scope: 'read', personal_key_scope: 'read' }, actor));
    expect(events).toEqual([
      expect.objectContaining({
        type: 'resource.created',
        subject: audience,
        outcome: 'success',
        details: { scope: 'read', personal_key_scope: 'read' },
        ...expected,
      }),
    ]);
  });

  test.each(actors)('resource.updated, by %s', async (_by, actor, expected) => {
    const resource = await create({});
    const events = await eventsOf(() => running.services.resources.update({ id: resource.id }, { personal_key_scope: 'write' }, actor));
    expect(events).toEqual([
      expect.objectContaining({
        type: 'resource.updated',
        subject: resource.audience,
        outcome: 'success',
        details: { personal_key_scope: 'write' },
        ...expected,
      }),
    ]);
  });

  test('a refused change writes none', async () => {
    const resource = await create({});
    const refused = () => running.services.resources.update({ id: resource.id }, { personal_key_scope: 'delete' }, ADMIN);
    expect(await eventsOf(() => refused().catch(() => undefined))).toEqual([]);
  });
});

describe("the clients that may exchange a person's token for an API (RFC 8693)", () => {
  test('each once, sorted, on the summary, the lookup and the definition; none unless given', async () => {
    const resource = await create({ exchange_clients: ['zeta', 'alpha', 'zeta'] });
    expect(resource.exchange_clients).toEqual(['alpha', 'zeta']);
    expect((await running.services.resources.findByAudience(resource.audience))?.exchange_clients).toEqual(['alpha', 'zeta']);
    const plain = await create({});
    const definitions = await running.services.resources.definitions();
    expect(definitions.find((definition) => definition.audience === resource.audience)?.exchange_clients).toEqual(['alpha', 'zeta']);
    expect(plain.exchange_clients).toEqual([]);
    expect(definitions.find((definition) => definition.audience === plain.audience)).not.toHaveProperty('exchange_clients');
  });

  test.each([
    ['a client id with white space', { exchange_clients: ['two words'] }],
    ['an empty client id', { exchange_clients: [''] }],
    ['a client id with a control character', { exchange_clients: ['a\u0001'] }],
    ['a list given as text', { exchange_clients: 'alpha' }],
    ['101 clients', { exchange_clients: Array.from({ length: 101 }, (_, i) => `client-${i}`) }],
  ])('%s is refused, naming exchange_clients', async (_case, input) => {
    await expect(create(input)).rejects.toMatchObject({ name: 'InputError', field: 'exchange_clients' });
    const resource = await create({});
    await expect(running.services.resources.update({ id: resource.id }, input as never, ADMIN)).rejects.toMatchObject({
      name: 'InputError',
      field: 'exchange_clients',
    });
  });

  test("no client may exchange for Portcullis's own admin API", async () => {
    const audience = adminAudience(running.config.issuer);
    await running.services.resources.ensure(audience, `${ADMIN_SCOPES.read} ${ADMIN_SCOPES.write}`, 'Portcullis admin API');
    await expect(running.services.resources.update({ audience }, { exchange_clients: ['svc'] }, ADMIN)).rejects.toMatchObject({
      name: 'InputError',
      field: 'exchange_clients',
    });
  });

  test('an update replaces the list and leaves the personal scopes; [] clears it; each writes one event naming what it set', async () => {
    const resource = await create({ personal_key_scope: 'read' });
    const events = await eventsOf(() => running.services.resources.update({ id: resource.id }, { exchange_clients: ['b', 'a'] }, ADMIN));
    expect(events).toEqual([expect.objectContaining({ type: 'resource.updated', details: { exchange_clients: ['a', 'b'] } })]);
    const found = await running.services.resources.findByAudience(resource.audience);
    expect(found).toMatchObject({ exchange_clients: ['a', 'b'], personal_key_scope: 'read' });
    const both = await running.services.resources.update({ id: resource.id }, { exchange_clients: ['c'], personal_key_scope: '' }, ADMIN);
    expect(both).toMatchObject({ exchange_clients: ['c'], personal_key_scope: '' });
    expect((await running.services.resources.update({ id: resource.id }, { exchange_clients: [] }, ADMIN)).exchange_clients).toEqual([]);
  });

  test('a replacement compares the list by its members: another order changes nothing, another member is one change', async () => {
    const resource = await create({ exchange_clients: ['a', 'b'] });
    const same = { audience: resource.audience, scope: 'read write', exchange_clients: ['b', 'a', 'a'] };
    expect(await eventsOf(() => running.services.resources.replace(same, ADMIN))).toEqual([]);
    const events = await eventsOf(() => running.services.resources.replace({ ...same, exchange_clients: ['a'] }, ADMIN));
    expect(events).toEqual([
      expect.objectContaining({
        type: 'resource.updated',
        details: expect.objectContaining({ fields: ['exchange_clients'], exchange_clients: ['a'] }),
      }),
    ]);
    const cleared = await eventsOf(() => running.services.resources.replace({ audience: resource.audience, scope: 'read write' }, ADMIN));
    expect(cleared).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ fields: ['exchange_clients'], exchange_clients: [] }) }),
    ]);
    expect((await running.services.resources.findByAudience(resource.audience))?.exchange_clients).toEqual([]);
  });
});
