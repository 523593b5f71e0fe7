// Portcullis's own admin API is an API resource like any other: its audience and its scopes.
export const ADMIN_SCOPES = { read: 'admin:read', write: 'admin:write' } as const;
export const adminAudience = (issuer: string) => `${issuer}/admin`;
