// The configuration document (`portcullis export` writes it, `portcullis apply` reads it): a
// version, the API resources, the roles, the organization template's roles, the connections and
// the clients, each entry in the input names of its service (resourceCreateSchema,
// roleCreateSchema, organizationRoleCreateSchema, connectionCreateSchema, clientCreateSchema) plus
// what the file adds: a client's id, and a reference to where a client's or a connection's secret
// is. Strict everywhere: an unknown field is refused, with its line. Who holds a role, and the
// organizations with their members, are data the server keeps (people and tenants), not
// configuration: no file names them.
import { z } from 'zod';
import { organizationRoleCreateSchema, roleCreateSchema } from '../access/index.ts';
import { clientCreateSchema, clientIdText } from '../clients/index.ts';
import { connectionCreateSchema } from '../federation/index.ts';
import { text } from '../oauth/index.ts';
import { resourceCreateSchema } from '../resources/index.ts';

/** The format's version: a file says which it is written in, so the format can change. */
export const MANIFEST_VERSION = 1;

/** A POSIX environment variable's name. */
const environmentName = text(200).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name (letters, digits, _)');

/**
 * Where a client's (or a connection's) secret is read at apply time: never the secret itself. `from_file` is
 * relative to the file's folder (a Docker or Kubernetes secret, a vault agent's output).
 */
export const secretReferenceSchema = z
  .strictObject({
    from_env: environmentName.optional().describe('the environment variable that holds the secret'),
    from_file: text(4096).min(1, 'is required').optional().describe('the file that holds the secret (one trailing newline is ignored)'),
  })
  .refine((reference) => (reference.from_env === undefined) !== (reference.from_file === undefined), {
    message: 'must name exactly one of from_env and from_file (a secret is never written in the file)',
  });
export type SecretReference = z.output<typeof secretReferenceSchema>;

export const manifestResourceSchema = resourceCreateSchema.strict();
export type ManifestResource = z.output<typeof manifestResourceSchema>;

export const manifestClientSchema = clientCreateSchema
  .extend({
    client_id: clientIdText,
    client_secret: secretReferenceSchema.optional().describe('where the secret of a client that uses one is read; never the secret'),
  })
  .strict();
export type ManifestClient = z.output<typeof manifestClientSchema>;

/** A role: a name and the permissions (`AUDIENCE:SCOPE`) it gives; never who holds it. */
export const manifestRoleSchema = roleCreateSchema.strict();
export type ManifestRole = z.output<typeof manifestRoleSchema>;

/** A role of the organization template, which every organization offers its members. */
export const manifestOrganizationRoleSchema = organizationRoleCreateSchema.strict();
export type ManifestOrganizationRole = z.output<typeof manifestOrganizationRoleSchema>;

/** A connection: its service's create input, with the upstream's client secret read from where the file says. */
export const manifestConnectionSchema = connectionCreateSchema
  .extend({
    client_secret: secretReferenceSchema
      .optional()
      .describe(
        "where the secret the upstream gave is read (needed to create the connection; given later, it replaces the server's when it differs)",
      ),
  })
  .strict();
export type ManifestConnection = z.output<typeof manifestConnectionSchema>;

export const manifestSchema = z.strictObject({
  portcullis: z.literal(MANIFEST_VERSION, {
    error: (issue) =>
      issue.input === undefined
        ? `is required: the version of the format the file is written in (${MANIFEST_VERSION})`
        : `must be ${MANIFEST_VERSION}, the version of the format this server reads`,
  }),
  resources: z.array(manifestResourceSchema).default([]),
  roles: z.array(manifestRoleSchema).default([]),
  organization_roles: z.array(manifestOrganizationRoleSchema).default([]),
  connections: z.array(manifestConnectionSchema).default([]),
  clients: z.array(manifestClientSchema).default([]),
});
export type Manifest = z.output<typeof manifestSchema>;
/** The document as written: defaults left out. */
export type ManifestDocument = z.input<typeof manifestSchema>;
