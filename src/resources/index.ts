// API resources: the resource service, the schemas of its inputs, an API described whole (what
// configuration as code writes and compares), and Portcullis's own admin API.
export { ADMIN_SCOPES, adminAudience } from './adminApi.ts';
export {
  createResourceService,
  resourceDefinition,
  type ApiResourceSummary,
  type PersonalKeyResource,
  type ResourceDefinition,
  type ResourceSelector,
  type ResourceService,
} from './resources.ts';
export {
  DEFAULT_ACCESS_TOKEN_TTL,
  MAX_ACCESS_TOKEN_TTL,
  MIN_ACCESS_TOKEN_TTL,
  resourceCreateSchema,
  resourceUpdateSchema,
  type ResourceCreateInput,
  type ResourceUpdateInput,
} from './schema.ts';
