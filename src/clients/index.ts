// OAuth clients: the service (registration, secrets, what oidc-provider is given), its input
// schemas, and a client described whole (what configuration as code writes and compares).
export {
  CLIENT_CACHE_MS,
  createClientService,
  type ClientService,
  type ClientSummary,
  type CreatedClient,
  type ProviderClientMetadata,
  type RotatedSecret,
} from './clients.ts';
export { clientDefinition, replacedFields, usesSecret, type ClientDefinition } from './rules.ts';
export {
  DEFAULT_REGISTRATION_GRANTS,
  registrationTokenCreateSchema,
  type CreatedRegistrationToken,
  type RegistrationTokenCreateInput,
  type RegistrationTokenSummary,
} from './initialAccessTokens.ts';
export { registrationRequest } from './registration.ts';
export {
  authMethods,
  clientCreateSchema,
  clientGivenSchema,
  clientIdText,
  clientProfiles,
  clientSecretRotateSchema,
  clientSecretSetSchema,
  clientUpdateSchema,
  givenSecretText,
  MIN_GIVEN_SECRET_LENGTH,
  secretAuthMethods,
  storedClientMetadataSchema,
  supportedGrantTypes,
  type AuthMethod,
  type ClientCreateInput,
  type ClientGiven,
  type ClientProfile,
  type ClientSecretRotateInput,
  type ClientSecretSetInput,
  type ClientUpdateInput,
  type GrantType,
  type StoredClientMetadata,
} from './schema.ts';
