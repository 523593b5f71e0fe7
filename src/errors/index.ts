// Errors: the typed errors every surface renders, and the database refusals that become them.
export { ConflictError, InputError, NotFoundError, PortcullisError, type ErrorCode, type ErrorOptions } from './errors.ts';
export { fromDatabaseError } from './database.ts';
