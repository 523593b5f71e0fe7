export { createGrantService, type GrantService, type GrantSummary } from './grants.ts';
