// OAuth clients: registering them, listing them, and checking their secrets. The CLI, the admin
// API and oidc-provider (through the adapter) all come here, so each rule is written once.
//
// A client secret is 256 bits from the CSPRNG, shown once at creation, and stored only as
// HMAC-SHA256 under the pepper. oidc-provider receives that hash as `client_secret` and checks
// a presented secret through `verifyClientSecret` (see src/oidc/provider.ts).
import type { AdapterPayload } from 'oidc-provider';
import type { AuditLog } from '../audit/index.ts';
import { constantTimeEqual, keyedHash, randomSecret } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { InputError } from '../errors/index.ts';

export const supportedGrantTypes = ['client_credentials', 'authorization_code', 'refresh_token'] as const;
export const secretAuthMethods = ['client_secret_basic', 'client_secret_post'] as const;
export type GrantType = (typeof supportedGrantTypes)[number];

export interface CreateClientInput {
  name: string;
  grantTypes: string[];
  redirectUris?: string[];
  scope?: string;
  public?: boolean;
  tokenEndpointAuthMethod?: string;
}

export interface ClientSummary {
  client_id: string;
  name: string;
  public: boolean;
  grant_types: string[];
  redirect_uris: string[];
  scope: string;
  token_endpoint_auth_method: string;
  created_at: string;
}

export interface CreatedClient {
  client_id: string;
  client_secret?: string;
}

/** Tells hashed secrets from anything else that might sit in `client_secret`. */
const SECRET_HASH_PREFIX = 'hmac-sha256:';
const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 section 3.3

function validateRedirectUri(uri: string, isPublic: boolean): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InputError('redirect_uri', `${JSON.stringify(uri)} is not an absolute URI`);
  }
  if (url.hash) throw new InputError('redirect_uri', 'must not contain a fragment (RFC 6749 section 3.1.2)');
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'http:' && !loopback) {
    throw new InputError('redirect_uri', 'http: is allowed only for loopback addresses; use https:');
  }
  if (!isPublic && !['http:', 'https:'].includes(url.protocol)) {
    throw new InputError('redirect_uri', 'a confidential client needs an https: redirect URI');
  }
}

export function normalizeScope(scope: string | undefined): string {
  const tokens = [...new Set((scope ?? '').split(' ').filter(Boolean))];
  for (const token of tokens) {
    if (!scopeToken.test(token)) throw new InputError('scope', `${JSON.stringify(token)} is not a valid scope token`);
  }
  return tokens.join(' ');
}

export interface ClientServiceOptions {
  prisma: Prisma;
  pepper: string;
  audit: AuditLog;
}

export function createClientService({ prisma, pepper, audit }: ClientServiceOptions) {
  const hashSecret = (secret: string) => SECRET_HASH_PREFIX + keyedHash(pepper, secret);

  function validate(input: CreateClientInput) {
    const name = input.name?.trim();
    if (!name) throw new InputError('name', 'is required');
    if (name.length > 200) throw new InputError('name', 'must be at most 200 characters');
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
    const authMethod = isPublic ? 'none' : (input.tokenEndpointAuthMethod ?? 'client_secret_basic');
    if (!isPublic && !(secretAuthMethods as readonly string[]).includes(authMethod)) {
      throw new InputError('auth_method', `must be one of ${secretAuthMethods.join(', ')}`);
    }
    return { name, grantTypes, redirectUris, isPublic, authMethod, scope: normalizeScope(input.scope) };
  }

  return {
    async create(input: CreateClientInput): Promise<CreatedClient> {
      const valid = validate(input);
      const clientId = randomSecret(16);
      const secret = valid.isPublic ? undefined : randomSecret(32);
      const metadata = {
        client_name: valid.name,
        grant_types: valid.grantTypes,
        redirect_uris: valid.redirectUris,
        response_types: valid.grantTypes.includes('authorization_code') ? ['code'] : [],
        scope: valid.scope,
        token_endpoint_auth_method: valid.authMethod,
      };
      await prisma.client.create({
        data: {
          id: clientId,
          name: valid.name,
          public: valid.isPublic,
          metadata,
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

    async list(): Promise<ClientSummary[]> {
      const rows = await prisma.client.findMany({ orderBy: { createdAt: 'asc' } });
      return rows.map((row) => {
        const metadata = row.metadata as Record<string, unknown>;
        return {
          client_id: row.id,
          name: row.name,
          public: row.public,
          grant_types: metadata.grant_types as string[],
          redirect_uris: metadata.redirect_uris as string[],
          scope: metadata.scope as string,
          token_endpoint_auth_method: metadata.token_endpoint_auth_method as string,
          created_at: row.createdAt.toISOString(),
        };
      });
    },

    /** The client as oidc-provider sees it: its metadata, with the secret's hash as `client_secret`. */
    async findProviderMetadata(clientId: string): Promise<AdapterPayload | undefined> {
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
      };
    },

    /** True when `presented` hashes to `storedHash`. Constant-time. */
    verifySecret(storedHash: string, presented: string): boolean {
      return constantTimeEqual(storedHash, hashSecret(presented));
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;
