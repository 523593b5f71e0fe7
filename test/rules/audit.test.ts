// The audit log's query, on a fresh database without HTTP: its input is parsed in the wire's
// names (ISO 8601 instants, a limit of at most 500), and it filters and pages as asked.
import { InputError } from '../../src/errors/index.ts';
import { startServices, type TestServices } from '../support/services.ts';

let running: TestServices;

beforeAll(async () => {
  running = await startServices();
  const { audit } = running.services;
  for (let i = 0; i < 51; i += 1) await audit.record({ type: 'test.page', actorType: 'system', outcome: 'success' });
  await audit.record({ type: 'test.actor', actorType: 'admin', actorId: 'admin-client', subject: 'thing', outcome: 'success' });
});
afterAll(() => running.stop());

test.each<[string, string, Record<string, unknown>]>([
  ['a since that is not an instant', 'since', { since: 'yesterday' }],
  ['a since without a time', 'since', { since: '2024-01-01' }],
  ['an until in year 0', 'until', { until: '0000-01-01T00:00:00Z' }],
  ['a limit over 500', 'limit', { limit: 501 }],
  ['a limit of 0', 'limit', { limit: 0 }],
  ['a limit that is not a number', 'limit', { limit: 'many' }],
  ['a fractional limit', 'limit', { limit: 2.5 }],
  ['a type with a control character', 'type', { type: 'login\u0000' }],
  ['an actor over 200 characters', 'actor', { actor: 'x'.repeat(201) }],
  ['an unknown field', 'actorType', { actorType: 'admin' }],
  ['a cursor that names no event', 'cursor', { cursor: 'no-such-event' }],
])('%s is refused, naming %s', async (_case, field, input) => {
  const error = await running.services.audit.query(input).then(
    () => undefined,
    (refusal: unknown) => refusal,
  );
  expect(error).toBeInstanceOf(InputError);
  expect(error).toMatchObject({ field });
});

test('fifty events a page unless told, with a cursor to the next', async () => {
  const first = await running.services.audit.query({ type: 'test.page' });
  expect(first.events).toHaveLength(50);
  expect(first.next_cursor).toEqual(first.events.at(-1)!.id);
  const second = await running.services.audit.query({ type: 'test.page', cursor: first.next_cursor! });
  expect(second).toMatchObject({ events: [expect.objectContaining({ type: 'test.page' })], next_cursor: null });
});

test('a limit from a query string is a number', async () => {
  expect((await running.services.audit.query({ type: 'test.page', limit: '2' })).events).toHaveLength(2);
  expect((await running.services.audit.query({ type: 'test.page', limit: 500 })).events).toHaveLength(51);
});

test.each<[string, Record<string, string>, number]>([
  ['since an hour ago', { since: new Date(Date.now() - 3_600_000).toISOString() }, 1],
  ['since an hour from now', { since: new Date(Date.now() + 3_600_000).toISOString() }, 0],
  ['until an hour ago', { until: new Date(Date.now() - 3_600_000).toISOString() }, 0],
  ['until an hour from now', { until: new Date(Date.now() + 3_600_000).toISOString() }, 1],
  ['by actor', { actor: 'admin-client' }, 1],
  ['by another actor', { actor: 'someone-else' }, 0],
  ['by subject', { subject: 'thing' }, 1],
])('%s', async (_case, filter, count) => {
  expect((await running.services.audit.query({ type: 'test.actor', ...filter })).events).toHaveLength(count);
});
