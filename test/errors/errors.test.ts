// Portcullis's errors: the codes and statuses each class carries, and the database refusals that
// become conflicts with a private detail naming the constraint.
import { ConflictError, fromDatabaseError, InputError, NotFoundError, PortcullisError } from '../../src/errors/index.ts';

test('each class carries its code and status, and a detail only when given one', () => {
  expect(new InputError('redirect_uris', 'must be https')).toMatchObject({
    code: 'invalid_input',
    status: 400,
    field: 'redirect_uris',
    message: 'redirect_uris: must be https',
    detail: undefined,
  });
  expect(new NotFoundError('client x')).toMatchObject({ code: 'not_found', status: 404, message: 'client x not found' });
  expect(new ConflictError('taken', { detail: 'row 7' })).toMatchObject({ code: 'conflict', status: 409, detail: 'row 7' });
  expect(new PortcullisError('unsupported_media_type', 415, 'send JSON').name).toBe('PortcullisError');
});

test.each([
  [
    'a driver adapter (SQLite, PostgreSQL)',
    { modelName: 'User', driverAdapterError: { cause: { kind: 'UniqueConstraintViolation', constraint: { fields: ['email'] } } } },
    'unique constraint on User (email)',
  ],
  [
    'an index named by a driver adapter',
    { modelName: 'ApiResource', driverAdapterError: { cause: { constraint: { index: 'audience_key' } } } },
    'unique constraint on ApiResource (audience_key)',
  ],
  ["Prisma's own engine", { modelName: 'SigningKey', target: ['slot'] }, 'unique constraint on SigningKey (slot)'],
  ["Prisma's own engine, one name", { target: 'ApiKey_keyHash_key' }, 'unique constraint on a table (ApiKey_keyHash_key)'],
  ['no meta', undefined, 'unique constraint on a table (unknown fields)'],
  ['a meta of another shape', 'odd', 'unique constraint on a table (unknown fields)'],
])('a unique constraint from %s is a conflict whose detail names its fields', (_source, meta, detail) => {
  const error = fromDatabaseError(Object.assign(new Error('Unique constraint failed'), { code: 'P2002', meta }));
  expect(error).toBeInstanceOf(ConflictError);
  expect(error).toMatchObject({ code: 'conflict', status: 409, message: 'it already exists', detail });
});

test.each([null, undefined, 'text', new Error('boom'), Object.assign(new Error('other'), { code: 'P2025' })])(
  '%p is returned as it was',
  (error) => {
    expect(fromDatabaseError(error)).toBe(error);
  },
);
