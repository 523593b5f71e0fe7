// Typed errors of Portcullis's own services. Each carries a stable `code`, an HTTP status and,
// for bad input, the field at fault; the HTTP layer and the CLI render them in one place each.

export class PortcullisError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** Input that fails validation. `field` names the offending field or option. */
export class InputError extends PortcullisError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('invalid_input', 400, `${field}: ${message}`);
    this.field = field;
  }
}

export class NotFoundError extends PortcullisError {
  constructor(what: string) {
    super('not_found', 404, `${what} not found`);
  }
}

export class ConflictError extends PortcullisError {
  constructor(message: string) {
    super('conflict', 409, message);
  }
}

/**
 * Turns the database's refusals that are the caller's doing into Portcullis errors: a unique
 * constraint (two creations of the same thing at once) is a conflict. Anything else is returned
 * as it was.
 */
export function fromDatabaseError(error: unknown): unknown {
  if ((error as { code?: string } | null)?.code === 'P2002') return new ConflictError('it already exists');
  return error;
}
