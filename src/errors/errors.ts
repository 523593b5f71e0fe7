// Typed errors of Portcullis's own services. Each carries a stable `code`, an HTTP status and,
// for bad input, the field at fault; the HTTP layer and the CLI render them in one place each.
// A `detail` is for the operator's log only: no surface ever puts it in an answer.

/**
 * Every code a Portcullis error carries. A closed list, so a surface can map each one and a new
 * code is a deliberate change here rather than a string invented at a throw.
 */
export type ErrorCode =
  /** Input that fails validation (InputError; the CLI's usage errors too). */
  | 'invalid_input'
  /** NotFoundError. */
  | 'not_found'
  /** ConflictError: the thing exists already, or changed under the caller. */
  | 'conflict'
  /** The caller may not do this here (a person making an organization where only administrators may). */
  | 'forbidden'
  /** The admin API was sent a body that is not JSON. */
  | 'unsupported_media_type'
  /** KeyRotationError (src/keys): a rotation that would publish or retire a key too early. */
  | 'key_rotation_refused'
  /** No current signing key (src/keys): the key set is broken, not the request. */
  | 'no_signing_key';

export interface ErrorOptions {
  /**
   * What the operator needs to know and the caller must not see (which constraint refused a
   * row, which table held it): logged with the request's id, never rendered.
   */
  detail?: string;
}

export class PortcullisError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** For the log only; see ErrorOptions. */
  readonly detail: string | undefined;
  constructor(code: ErrorCode, status: number, message: string, { detail }: ErrorOptions = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.detail = detail;
  }
}

/** Input that fails validation. `field` names the offending field or option. */
export class InputError extends PortcullisError {
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super('invalid_input', 400, `${field}: ${message}`, options);
    this.field = field;
  }
}

export class NotFoundError extends PortcullisError {
  constructor(what: string, options?: ErrorOptions) {
    super('not_found', 404, `${what} not found`, options);
  }
}

export class ConflictError extends PortcullisError {
  constructor(message: string, options?: ErrorOptions) {
    super('conflict', 409, message, options);
  }
}
