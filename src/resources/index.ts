export { ADMIN_SCOPES, adminAudience } from './adminApi.ts';
export { createResourceService, MAX_ACCESS_TOKEN_TTL, type ApiResourceSummary, type ResourceService } from './resources.ts';
