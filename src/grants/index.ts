// Grants: what people consented to; listing and revoking them; the filter schema.
export { createGrantService, type GrantService, type GrantSummary } from './grants.ts';
export { grantFilterSchema, type GrantFilter } from './schema.ts';
