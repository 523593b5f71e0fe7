// The database's refusals that are the caller's doing, as Portcullis errors. Read from Prisma's
// error by shape (zod), so this room needs neither the Prisma client nor a cast.
import { z } from 'zod';
import { ConflictError } from './errors.ts';

/**
 * Prisma's P2002, a unique constraint. Which fields refused the row is in `meta.target` for
 * Prisma's own engines, and in the driver adapter's error for the adapters Portcullis uses
 * (SQLite and PostgreSQL name the fields the same way). A `meta` of any other shape still makes a
 * conflict, only without the fields.
 */
const uniqueViolation = z.object({
  code: z.literal('P2002'),
  meta: z
    .object({
      modelName: z.string().optional(),
      target: z.union([z.array(z.string()), z.string()]).optional(),
      driverAdapterError: z
        .object({
          cause: z.object({ constraint: z.object({ fields: z.array(z.string()).optional(), index: z.string().optional() }).optional() }),
        })
        .optional(),
    })
    .optional()
    .catch(undefined),
});

/**
 * Turns the database's refusals that are the caller's doing into Portcullis errors: a unique
 * constraint (two creations of the same thing at once) is a conflict, whose detail (for the log,
 * never the answer) names the constraint's fields. Anything else is returned as it was.
 */
export function fromDatabaseError(error: unknown): unknown {
  const unique = uniqueViolation.safeParse(error);
  if (!unique.success) return error;
  return new ConflictError('it already exists', { detail: uniqueDetail(unique.data.meta) });
}

function uniqueDetail(meta: z.output<typeof uniqueViolation>['meta']): string {
  const constraint = meta?.driverAdapterError?.cause.constraint;
  const target = meta?.target ?? constraint?.fields ?? constraint?.index;
  const fields = target === undefined ? 'unknown fields' : [target].flat().join(', ');
  return `unique constraint on ${meta?.modelName ?? 'a table'} (${fields})`;
}
