// A connection (an upstream identity provider) as the document describes it: the connection
// service's create input (connectionCreateSchema) made whole the way `connections.create` makes it
// (a preset's fields, then the defaults), so that an entry and what the server has compare field by
// field; what `portcullis export` writes for it (what a preset or a default gives left out); and the
// update that brings the server's connection to the entry. Never the client secret: the file names
// where it is, and the plan compares it with the sealed one without showing either.
import { InputError } from '../errors/index.ts';
import {
  defaultsOf,
  presetOf,
  type ConnectionCreateInput,
  type ConnectionDefinition,
  type ConnectionUpdateInput,
} from '../federation/index.ts';

type ConnectionEntry = Omit<ConnectionCreateInput, 'client_secret'>;

/** What `portcullis export` writes: what the preset (or the service's default) gives is left out, so the file reads as what was chosen. */
export function connectionEntry(connection: ConnectionDefinition): ConnectionEntry {
  const preset = presetOf(connection.preset);
  const defaults = defaultsOf(connection.type, preset);
  const unlessDefault = <K extends keyof typeof defaults & keyof ConnectionDefinition>(field: K) =>
    connection[field] === defaults[field] || connection[field] === null ? {} : { [field]: connection[field] };
  const mapping = Object.entries(connection.claim_mapping).filter(
    ([field, claim]) => (defaults.claim_mapping as Record<string, string | undefined>)[field] !== claim,
  );
  return {
    name: connection.name,
    ...(preset ? { preset: connection.preset! } : { type: connection.type }),
    ...unlessDefault('display_name'),
    ...unlessDefault('issuer'),
    ...unlessDefault('authorization_url'),
    ...unlessDefault('token_url'),
    ...unlessDefault('userinfo_url'),
    client_id: connection.client_id,
    ...unlessDefault('token_endpoint_auth_method'),
    ...unlessDefault('scope'),
    ...(mapping.length ? { claim_mapping: Object.fromEntries(mapping) } : {}),
    ...unlessDefault('trust_email_verified'),
    ...(connection.create_accounts ? {} : { create_accounts: false }),
    ...(connection.store_tokens ? { store_tokens: true } : {}),
    ...(connection.enabled ? {} : { enabled: false }),
    ...(connection.position ? { position: connection.position } : {}),
  };
}

/** The fields compared: all but the name (the key) and the preset (a source of values, not one: what it gave is compared). */
const COMPARED = [
  'type',
  'display_name',
  'issuer',
  'authorization_url',
  'token_url',
  'userinfo_url',
  'client_id',
  'token_endpoint_auth_method',
  'scope',
  'claim_mapping',
  'trust_email_verified',
  'create_accounts',
  'store_tokens',
  'enabled',
  'position',
] as const satisfies readonly (keyof ConnectionDefinition)[];
export type ComparedField = (typeof COMPARED)[number];

/** JSON with every object's keys sorted: PostgreSQL's jsonb does not keep the order a mapping was written in. */
const canonicalJson = (value: unknown) =>
  JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([one], [other]) => (one < other ? -1 : 1)))
      : item,
  );

/**
 * The fields of `before` (the server's) that `after` (the file's) changes; throws InputError for a
 * change the connection service cannot make in place: the type (an OpenID Connect connection and an
 * OAuth 2.0 one are different things), a field removed, a claim of the mapping dropped (an update
 * sets the fields it is given and keeps the rest).
 */
export function changedConnectionFields(before: ConnectionDefinition, after: ConnectionDefinition): ComparedField[] {
  const fields = COMPARED.filter((field) => canonicalJson(before[field]) !== canonicalJson(after[field]));
  if (fields.includes('type'))
    throw new InputError(
      'type',
      `cannot change on an existing connection (${before.type} to ${after.type}): delete it and create a new one`,
    );
  for (const field of fields)
    if (after[field] === null)
      throw new InputError(field, 'cannot be removed from an existing connection: set another value, or delete it and create a new one');
  const dropped = Object.keys(before.claim_mapping).filter((field) => !(field in after.claim_mapping));
  if (dropped.length)
    throw new InputError(
      'claim_mapping',
      `cannot drop ${dropped.join(', ')} from an existing connection (an update keeps the fields it is not given): map it to another claim, or delete the connection and create it anew`,
    );
  return fields;
}

/** The update that makes the server's connection the file's: the changed fields (never the type, refused above), and the secret when it changes. */
export function connectionUpdate(after: ConnectionDefinition, fields: ComparedField[], secret: string | undefined): ConnectionUpdateInput {
  const update: Record<string, unknown> = Object.fromEntries(fields.map((field) => [field, after[field]]));
  return { ...update, ...(secret === undefined ? {} : { client_secret: secret }) } as ConnectionUpdateInput;
}
