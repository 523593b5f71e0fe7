// The words a connection is described in, shared by its schema and its presets.
export const connectionTypes = ['oidc', 'oauth2'] as const;
export type ConnectionType = (typeof connectionTypes)[number];

/** The local fields an upstream claim can become. */
export const mappedFields = ['subject', 'email', 'name', 'email_verified'] as const;
export type MappedField = (typeof mappedFields)[number];
/** Which upstream claim becomes each local field (claim names; `subject` is required). */
export type ClaimMapping = { subject: string } & Partial<Record<Exclude<MappedField, 'subject'>, string>>;
