// The building blocks of every input schema, and the one way an input is parsed: a failure
// names the field as the request (or the CLI's JSON) spells it. Each service owns the schemas of
// its inputs (src/*/schema.ts) and parses with `parseInput`, so every surface that calls it (the
// admin API, the CLI, the pages) reports a bad value the same way.
import { z } from 'zod';
import { InputError } from '../errors/index.ts';
import { hasControlCharacters } from './values.ts';

/** Text from outside: at most `max` characters, no control characters (PostgreSQL cannot store NUL). */
export const text = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine((value) => !hasControlCharacters(value), 'must not contain control characters');

/** An identifier from a path or a query (a client id, a user id, a key id). */
export const identifier = text(200).min(1, 'is required').describe('identifier');
/**
 * An optional text field where an empty value means "not given" (a query's `?client_id=`, a
 * form's empty field, a JSON body's ""), as every surface has always read it.
 */
export const optionalText = (schema: z.ZodString | ReturnType<typeof text>) => schema.optional().transform((value) => value || undefined);
/** A URI as text; what kind of URI is the service's rule. */
export const uriText = text(2000).min(1, 'is required');
/** A space-separated list of scopes, checked token by token by the services (normalizeScope). */
export const scopeText = text(2000).describe('space-separated scopes');

/** How long a previous secret or key keeps working after a rotation: one day unless told, 90 days at most. */
export const GRACE_SECONDS = { default: 86_400, max: 90 * 86_400 } as const;
export const graceSeconds = z
  .number()
  .int('must be a whole number of seconds')
  .min(0, 'must be from 0 seconds to 90 days')
  .max(GRACE_SECONDS.max, 'must be from 0 seconds to 90 days')
  .default(GRACE_SECONDS.default)
  .describe('seconds the previous one keeps working (default one day, at most 90 days)');

/** An instant in ISO 8601, between 1970 and 9999. */
export const timestamp = z.iso.datetime().refine((value) => {
  const year = new Date(value).getUTCFullYear();
  return year >= 1970 && year <= 9999;
}, 'must be between 1970 and 9999');

/**
 * The strict form of each schema, made once: `.strict()` returns a new schema, and zod compiles a
 * schema's parser on its first use, so a fresh one per call would redo that work every time.
 */
const strictSchemas = new WeakMap<z.ZodObject, z.ZodObject>();
function strictOf(schema: z.ZodObject): z.ZodObject {
  let strict = strictSchemas.get(schema);
  if (!strict) {
    strict = schema.strict();
    strictSchemas.set(schema, strict);
  }
  return strict;
}

/**
 * Parses `value` with `schema` (unknown fields refused). A failure is an InputError naming the
 * first field at fault by its wire name (`redirect_uris`, not `redirect_uris.0`), or the unknown
 * field.
 */
export function parseInput<Schema extends z.ZodObject>(schema: Schema, value: unknown): z.output<Schema> {
  const result = strictOf(schema).safeParse(value ?? {});
  if (result.success) return result.data as z.output<Schema>;
  const issue = result.error.issues[0]!;
  const unknown = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : undefined;
  const field = unknown ?? (issue.path.length ? String(issue.path[0]) : 'body');
  throw new InputError(field, unknown ? 'is not a field of this request' : issue.message);
}
