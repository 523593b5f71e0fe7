// Configuration as code: the document `portcullis export` writes and `portcullis apply` reads
// (API resources, roles, the organization template's roles, connections and clients; never a
// secret, never people's data: who holds a role, organizations and their members), checked whole
// with the line of each problem, planned as a diff against the server, and applied through the services.
export { exportManifest, manifestYaml, type ExportServices } from './export.ts';
export { planManifest, type Action, type Change, type FieldChange, type ManifestServices, type Plan, type PlanOptions } from './plan.ts';
export { MANIFEST_VERSION, manifestSchema, type ManifestDocument } from './schema.ts';
export { ManifestError, parseSource, type ManifestSource } from './source.ts';
