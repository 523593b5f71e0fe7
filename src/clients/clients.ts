// OAuth clients: registering them, listing them, and checking their secrets. The CLI, the admin
// API and oidc-provider (through the adapter) all come here, so each rule is written once.
//
// A client secret is 256 bits from the CSPRNG, shown once at creation, and stored only as
// HMAC-SHA256 under the pepper. oidc-provider receives that hash as `client_secret` and checks
// a presented secret through `verifySecret`, which oidc-provider calls via compareClientSecret
// (see src/oidc/provider.ts).
import type { AdapterPayload } from 'oidc-provider';
import type { AuditLog } from '../audit/index.ts';
import { constantTimeEqual, keyedHash, randomSecret } from '../crypto/index.ts';
import { createTtlCache } from '../cache/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, InputError, NotFoundError } from '../errors/index.ts';
import { hasControlCharacters, isStorableText, normalizeScope, validateAudience } from '../oauth/index.ts';

export const supportedGrantTypes = [
  'client_credentials',
  'authorization_code',
  'refresh_token',
  // RFC 8693, for trading an API key for a JWT access token (src/apikeys/oauth.ts).
  'urn:ietf:params:oauth:grant-type:token-exchange',
] as const;
export const secretAuthMethods = ['client_secret_basic', 'client_secret_post'] as const;
export const authMethods = [...secretAuthMethods, 'private_key_jwt'] as const;
/** How long the old secret keeps working after a rotation, unless told otherwise. */
export const DEFAULT_SECRET_GRACE_SECONDS = 24 * 60 * 60;
export type GrantType = (typeof supportedGrantTypes)[number];

export interface CreateClientInput {
  name: string;
  grantTypes: string[];
  redirectUris?: string[];
  scope?: string;
  public?: boolean;
  tokenEndpointAuthMethod?: string;
  /** The audience of the API resource tokens are for when a request names none. */
  defaultResource?: string;
  /** The client's public keys, for private_key_jwt (RFC 7523). */
  jwks?: unknown;
  /** Where RP-initiated logout may send the user afterwards. */
  postLogoutRedirectUris?: string[];
  /** Issue refresh tokens even when offline_access was not granted. */
  alwaysIssueRefreshToken?: boolean;
}

export interface ClientSummary {
  client_id: string;
  name: string;
  public: boolean;
  grant_types: string[];
  redirect_uris: string[];
  scope: string;
  token_endpoint_auth_method: string;
  default_resource: string | null;
  created_at: string;
}

export interface CreatedClient {
  client_id: string;
  client_secret?: string;
}

export interface RotatedSecret {
  client_id: string;
  client_secret: string;
  /** Until when the previous secret is still accepted (ISO 8601). */
  previous_secret_expires_at: string;
}

/** Tells hashed secrets from anything else that might sit in `client_secret`. */
const SECRET_HASH_PREFIX = 'hmac-sha256:';

function validateRedirectUri(uri: string, isPublic: boolean, field = 'redirect_uri'): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InputError(field, `${JSON.stringify(uri)} is not an absolute URI`);
  }
  if (hasControlCharacters(uri)) throw new InputError(field, 'must not contain control characters');
  if (url.hash || uri.includes('#')) throw new InputError(field, 'must not contain a fragment (RFC 6749 section 3.1.2)');
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'http:' && !loopback) {
    throw new InputError(field, 'http: is allowed only for loopback addresses; use https:');
  }
  // RFC 8252 section 7.1: native apps may use a private-use scheme; web clients may not.
  if (!isPublic && !['http:', 'https:'].includes(url.protocol)) {
    throw new InputError(field, 'a confidential client needs an https: redirect URI');
  }
  if (['javascript:', 'data:', 'file:', 'vbscript:'].includes(url.protocol))
    throw new InputError(field, `${url.protocol} URIs are not allowed`);
}

/** A public JWK Set: RSA, EC or OKP keys, none with a private part. */
function validateJwks(jwks: unknown): { keys: Record<string, unknown>[] } {
  const keys = (jwks as { keys?: unknown } | undefined)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new InputError('jwks', 'private_key_jwt needs a JWK Set with at least one key');
  for (const key of keys as Record<string, unknown>[]) {
    if (typeof key !== 'object' || key === null || !['RSA', 'EC', 'OKP'].includes(String(key.kty))) {
      throw new InputError('jwks', 'each key must be an RSA, EC or OKP public JWK');
    }
    if ('d' in key || 'p' in key || 'k' in key) throw new InputError('jwks', 'must hold public keys only: a private key was given');
  }
  return { keys: keys as Record<string, unknown>[] };
}

function summarize(row: { id: string; name: string; public: boolean; metadata: unknown; createdAt: Date }): ClientSummary {
  const metadata = row.metadata as Record<string, unknown>;
  return {
    client_id: row.id,
    name: row.name,
    public: row.public,
    grant_types: metadata.grant_types as string[],
    redirect_uris: metadata.redirect_uris as string[],
    scope: metadata.scope as string,
    token_endpoint_auth_method: metadata.token_endpoint_auth_method as string,
    default_resource: (metadata.default_resource as string | undefined) ?? null,
    created_at: row.createdAt.toISOString(),
  };
}

export interface ClientServiceOptions {
  prisma: Prisma;
  pepper: string;
  audit: AuditLog;
  /** Told after a client is deleted (its API keys' cached verifications must go). */
  onDeleted?: (clientId: string) => void;
}

/** How long a client's metadata is reused between lookups (other instances see changes this late). */
export const CLIENT_CACHE_MS = 1000;

export function createClientService({ prisma, pepper, audit, onDeleted }: ClientServiceOptions) {
  const cache = createTtlCache<AdapterPayload | null>(CLIENT_CACHE_MS);

  async function loadProviderMetadata(clientId: string): Promise<AdapterPayload | undefined> {
    const row = await prisma.client.findUnique({ where: { id: clientId } });
    if (!row) return undefined;
    // oidc-provider accepts in `scope` only the OpenID scopes it is configured with; API
    // scopes are Portcullis's to check, so they travel as `allowed_scope` (extra metadata).
    const { scope, ...metadata } = row.metadata as AdapterPayload;
    return {
      ...metadata,
      allowed_scope: scope ?? '',
      client_id: row.id,
      ...(row.secretHash ? { client_secret: row.secretHash } : {}),
      ...(row.previousSecretHash && row.previousSecretExpiresAt && row.previousSecretExpiresAt.getTime() > Date.now()
        ? {
            previous_secret_hash: row.previousSecretHash,
            previous_secret_expires_at: Math.floor(row.previousSecretExpiresAt.getTime() / 1000),
          }
        : {}),
    };
  }

  const hashSecret = (secret: string) => SECRET_HASH_PREFIX + keyedHash(pepper, secret);

  function validate(input: CreateClientInput) {
    const name = input.name?.trim();
    if (!name) throw new InputError('name', 'is required');
    if (name.length > 200) throw new InputError('name', 'must be at most 200 characters');
    if (hasControlCharacters(name)) throw new InputError('name', 'must not contain control characters');
    const grantTypes = [...new Set(input.grantTypes)];
    if (grantTypes.length === 0) throw new InputError('grant', 'at least one grant type is required');
    for (const grant of grantTypes) {
      if (!(supportedGrantTypes as readonly string[]).includes(grant)) {
        throw new InputError('grant', `${JSON.stringify(grant)} is not one of ${supportedGrantTypes.join(', ')}`);
      }
    }
    const isPublic = input.public === true;
    if (isPublic && grantTypes.includes('client_credentials')) {
      throw new InputError('grant', 'a public client cannot use client_credentials: it has no secret to authenticate with');
    }
    if (grantTypes.includes('refresh_token') && !grantTypes.includes('authorization_code')) {
      throw new InputError('grant', 'refresh_token needs authorization_code');
    }
    const redirectUris = [...new Set(input.redirectUris ?? [])];
    if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
      throw new InputError('redirect_uri', 'authorization_code needs at least one redirect URI');
    }
    for (const uri of redirectUris) validateRedirectUri(uri, isPublic);
    const postLogoutRedirectUris = [...new Set(input.postLogoutRedirectUris ?? [])];
    for (const uri of postLogoutRedirectUris) validateRedirectUri(uri, isPublic, 'post_logout_redirect_uri');
    if (input.alwaysIssueRefreshToken && !grantTypes.includes('refresh_token')) {
      throw new InputError('always_issue_refresh_token', 'needs the refresh_token grant');
    }
    const authMethod = isPublic ? 'none' : (input.tokenEndpointAuthMethod ?? 'client_secret_basic');
    if (!isPublic && !(authMethods as readonly string[]).includes(authMethod)) {
      throw new InputError('auth_method', `must be one of ${authMethods.join(', ')}`);
    }
    const jwks = authMethod === 'private_key_jwt' ? validateJwks(input.jwks) : undefined;
    if (authMethod !== 'private_key_jwt' && input.jwks !== undefined) {
      throw new InputError('jwks', 'is only for clients that authenticate with private_key_jwt');
    }
    const defaultResource = input.defaultResource === undefined ? undefined : validateAudience(input.defaultResource, 'default_resource');
    return {
      name,
      grantTypes,
      redirectUris,
      postLogoutRedirectUris,
      alwaysIssueRefreshToken: input.alwaysIssueRefreshToken === true,
      isPublic,
      authMethod,
      jwks,
      defaultResource,
      scope: normalizeScope(input.scope),
    };
  }

  return {
    async create(input: CreateClientInput): Promise<CreatedClient> {
      const valid = validate(input);
      if (
        valid.defaultResource &&
        !(await prisma.apiResource.findUnique({ where: { audience: valid.defaultResource }, select: { id: true } }))
      ) {
        throw new InputError('default_resource', `no API resource has audience ${valid.defaultResource}`);
      }
      // A client id never starts with "-" or "_": it is typed as a command-line argument.
      let clientId = randomSecret(16);
      while (!/^[A-Za-z0-9]/.test(clientId)) clientId = randomSecret(16);
      const usesSecret = (secretAuthMethods as readonly string[]).includes(valid.authMethod);
      const secret = usesSecret ? randomSecret(32) : undefined;
      const metadata = {
        client_name: valid.name,
        grant_types: valid.grantTypes,
        redirect_uris: valid.redirectUris,
        response_types: valid.grantTypes.includes('authorization_code') ? ['code'] : [],
        scope: valid.scope,
        token_endpoint_auth_method: valid.authMethod,
        ...(valid.jwks ? { jwks: valid.jwks } : {}),
        ...(valid.defaultResource ? { default_resource: valid.defaultResource } : {}),
        ...(valid.postLogoutRedirectUris.length ? { post_logout_redirect_uris: valid.postLogoutRedirectUris } : {}),
        ...(valid.alwaysIssueRefreshToken ? { always_issue_refresh_token: true } : {}),
      };
      await prisma.client.create({
        data: {
          id: clientId,
          name: valid.name,
          public: valid.isPublic,
          metadata: metadata as object,
          secretHash: secret ? hashSecret(secret) : null,
        },
      });
      await audit.record({
        type: 'client.created',
        actorType: 'admin',
        subject: clientId,
        outcome: 'success',
        details: { grant_types: valid.grantTypes },
      });
      return { client_id: clientId, ...(secret ? { client_secret: secret } : {}) };
    },

    async get(clientId: string): Promise<ClientSummary> {
      const row = isStorableText(clientId) ? await prisma.client.findUnique({ where: { id: clientId } }) : null;
      if (!row) throw new NotFoundError(`client ${clientId}`);
      return summarize(row);
    },

    /** Changes a client's name, redirect URIs or scope; the same rules as creation apply. */
    async update(
      clientId: string,
      changes: { name?: string; redirectUris?: string[]; postLogoutRedirectUris?: string[]; scope?: string },
    ): Promise<ClientSummary> {
      const row = isStorableText(clientId) ? await prisma.client.findUnique({ where: { id: clientId } }) : null;
      if (!row) throw new NotFoundError(`client ${clientId}`);
      const metadata = row.metadata as Record<string, unknown>;
      const current: CreateClientInput = {
        name: changes.name ?? row.name,
        grantTypes: metadata.grant_types as string[],
        redirectUris: changes.redirectUris ?? (metadata.redirect_uris as string[]),
        postLogoutRedirectUris: changes.postLogoutRedirectUris ?? (metadata.post_logout_redirect_uris as string[] | undefined) ?? [],
        scope: changes.scope ?? (metadata.scope as string),
        public: row.public,
        tokenEndpointAuthMethod: row.public ? undefined : (metadata.token_endpoint_auth_method as string),
        ...(metadata.jwks ? { jwks: metadata.jwks } : {}),
        ...(metadata.default_resource ? { defaultResource: metadata.default_resource as string } : {}),
        alwaysIssueRefreshToken: metadata.always_issue_refresh_token === true,
      };
      const valid = validate(current);
      const updated = await prisma.client.update({
        where: { id: clientId },
        data: {
          name: valid.name,
          metadata: {
            ...metadata,
            client_name: valid.name,
            redirect_uris: valid.redirectUris,
            scope: valid.scope,
            ...(valid.postLogoutRedirectUris.length
              ? { post_logout_redirect_uris: valid.postLogoutRedirectUris }
              : { post_logout_redirect_uris: [] }),
          } as object,
        },
      });
      cache.delete(clientId);
      await audit.record({
        type: 'client.updated',
        actorType: 'admin',
        subject: clientId,
        outcome: 'success',
        details: { fields: Object.keys(changes) },
      });
      return summarize(updated);
    },

    /**
     * Deletes a client and every token, code and grant issued to it, and revokes the API keys it
     * owns (so the tokens exchanged from them go too): nothing outlives its owner.
     */
    async delete(clientId: string): Promise<void> {
      const row = isStorableText(clientId) ? await prisma.client.findUnique({ where: { id: clientId }, select: { id: true } }) : null;
      if (!row) throw new NotFoundError(`client ${clientId}`);
      // One transaction: the keys revoked are exactly the keys listed (and audited) below.
      const keys = await prisma.$transaction(async (tx) => {
        const owned = await tx.apiKey.findMany({ where: { ownerClientId: clientId, revokedAt: null }, select: { id: true } });
        await tx.providerArtifact.deleteMany({ where: { clientId } });
        await tx.apiKey.updateMany({ where: { id: { in: owned.map((key) => key.id) } }, data: { revokedAt: new Date() } });
        await tx.client.delete({ where: { id: clientId } });
        return owned;
      });
      cache.delete(clientId);
      onDeleted?.(clientId);
      await audit.record({
        type: 'client.deleted',
        actorType: 'admin',
        subject: clientId,
        outcome: 'success',
        details: { api_keys_revoked: keys.length },
      });
      for (const key of keys) {
        await audit.record({
          type: 'api_key.revoked',
          actorType: 'system',
          subject: key.id,
          outcome: 'success',
          details: { reason: 'owner_deleted', owner_client: clientId },
        });
      }
    },

    async list(): Promise<ClientSummary[]> {
      const rows = await prisma.client.findMany({ orderBy: { createdAt: 'asc' } });
      return rows.map(summarize);
    },

    /** The client as oidc-provider sees it: its metadata, with the secret's hash as `client_secret`. */
    async findProviderMetadata(clientId: string): Promise<AdapterPayload | undefined> {
      if (!isStorableText(clientId)) return undefined;
      if (cache.has(clientId)) return cache.get(clientId) ?? undefined;
      const metadata = await loadProviderMetadata(clientId);
      cache.set(clientId, metadata ?? null);
      return metadata;
    },

    /**
     * True when `presented` is the client's secret, or its previous secret within the grace
     * period of a rotation. Both hashes are always compared, in constant time.
     */
    verifySecret(
      client: { secretHash?: string; previousSecretHash?: string; previousSecretExpiresAt?: number },
      presented: string,
    ): boolean {
      const hash = hashSecret(presented);
      const current = typeof client.secretHash === 'string' && constantTimeEqual(client.secretHash, hash);
      const previous =
        typeof client.previousSecretHash === 'string' &&
        constantTimeEqual(client.previousSecretHash, hash) &&
        (client.previousSecretExpiresAt ?? 0) * 1000 > Date.now();
      return current || previous;
    },

    /** Gives the client a new secret; the old one keeps working for `graceSeconds` (0: not at all). */
    async rotateSecret(clientId: string, graceSeconds = DEFAULT_SECRET_GRACE_SECONDS): Promise<RotatedSecret> {
      if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > 90 * 24 * 3600) {
        throw new InputError('grace', 'must be from 0 seconds to 90 days');
      }
      const row = isStorableText(clientId) ? await prisma.client.findUnique({ where: { id: clientId } }) : null;
      if (!row) throw new NotFoundError(`client ${clientId}`);
      if (!row.secretHash) throw new InputError('client_id', 'this client does not authenticate with a secret');
      const secret = randomSecret(32);
      const previousSecretExpiresAt = new Date(Date.now() + graceSeconds * 1000);
      // Conditioned on the hash we read, so two rotations at once cannot both keep "their" old secret.
      const { count } = await prisma.client.updateMany({
        where: { id: clientId, secretHash: row.secretHash },
        data: { secretHash: hashSecret(secret), previousSecretHash: row.secretHash, previousSecretExpiresAt },
      });
      if (count !== 1) throw new ConflictError('the secret was rotated by someone else at the same time; try again');
      cache.delete(clientId);
      await audit.record({
        type: 'client.secret_rotated',
        actorType: 'admin',
        subject: clientId,
        outcome: 'success',
        details: { grace_seconds: graceSeconds },
      });
      return { client_id: clientId, client_secret: secret, previous_secret_expires_at: previousSecretExpiresAt.toISOString() };
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;
