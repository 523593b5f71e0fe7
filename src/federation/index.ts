// Signing in through another identity provider: connections (OpenID Connect and OAuth 2.0), the
// upstream conversation, and the links between upstream and local accounts.
export { createFederation, signInOfState, type FederationFlow, type FederationOptions, type FederationService } from './service.ts';
export type { Connection, ConnectionButton } from './connections.ts';
export {
  checkedDefinition,
  connectionDefinition,
  defaultsOf,
  definitionOfView,
  presetOf,
  type ConnectionDefinition,
  type ConnectionSettings,
} from './definition.ts';
export {
  deleteIdentitiesOf,
  identitySummaryView,
  type IdentitySummary,
  type PendingLink,
  type Resolution,
  type UpstreamProfile,
} from './identities.ts';
export { PRESETS, presetNames, type Preset, type PresetName } from './presets.ts';
export {
  connectionCreateSchema,
  connectionName,
  connectionTypes,
  connectionUpdateSchema,
  mappedFields,
  upstreamAuthMethods,
  type ClaimMapping,
  type ConnectionCreateInput,
  type ConnectionType,
  type ConnectionUpdateInput,
  type ConnectionView,
} from './schema.ts';
export { problemStatus, UpstreamError, type UpstreamProblem } from './upstream.ts';
