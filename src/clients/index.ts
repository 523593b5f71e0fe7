// OAuth clients: the service (registration, secrets, what oidc-provider is given) and its input schemas.
export {
  CLIENT_CACHE_MS,
  createClientService,
  type ClientService,
  type ClientSummary,
  type CreatedClient,
  type ProviderClientMetadata,
  type RotatedSecret,
} from './clients.ts';
export {
  authMethods,
  clientCreateSchema,
  clientSecretRotateSchema,
  clientUpdateSchema,
  secretAuthMethods,
  storedClientMetadataSchema,
  supportedGrantTypes,
  type AuthMethod,
  type ClientCreateInput,
  type ClientSecretRotateInput,
  type ClientUpdateInput,
  type GrantType,
  type StoredClientMetadata,
} from './schema.ts';
