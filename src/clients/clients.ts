// OAuth clients: registering them, listing them, and checking their secrets. The CLI, the admin
// API and oidc-provider (through the adapter) all come here, so each rule is written once.
//
// A client secret is 256 bits from the CSPRNG, shown once at creation, or one given from outside
// (configuration as code: at least 32 characters, never returned), and stored only as
// HMAC-SHA256 under the pepper. oidc-provider receives that hash as `client_secret` and checks
// a presented secret through `verifySecret`, which oidc-provider calls via compareClientSecret
// (see src/oidc/provider.ts).
import { actorFields, SYSTEM_ACTOR, type Actor, type AuditLog } from '../audit/index.ts';
import { constantTimeEqual, keyedHash, randomSecret } from '../crypto/index.ts';
import { createTtlCache } from '../cache/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, InputError, NotFoundError } from '../errors/index.ts';
import { isStorableText, parseInput } from '../oauth/index.ts';
import { createClientRegistration } from './registration.ts';
import { clientMetadata, definitionOf, replacedFields, settingsOf, usesSecret, type ClientDefinition } from './rules.ts';
import {
  clientCreateSchema,
  clientGivenSchema,
  clientSecretRotateSchema,
  clientSecretSetSchema,
  clientUpdateSchema,
  storedClientFieldNames,
  storedClientMetadataSchema,
  type ClientCreateInput,
  type ClientGiven,
  type ClientProfile,
  type ClientSecretRotateInput,
  type ClientSecretSetInput,
  type ClientUpdateInput,
  type StoredClientFields,
  type StoredClientMetadata,
} from './schema.ts';

export interface ClientSummary {
  client_id: string;
  name: string;
  public: boolean;
  grant_types: string[];
  redirect_uris: string[];
  scope: string;
  token_endpoint_auth_method: string;
  default_resource: string | null;
  require_pushed_authorization_requests: boolean;
  dpop_bound_access_tokens: boolean;
  profile: ClientProfile | null;
  /** Every sign-in to the client needs a second factor. */
  require_mfa: boolean;
  /** The one connection people sign in through (null: the login page as usual). */
  login_connection: string | null;
  /** The organization the client belongs to (null: none). */
  organization_id: string | null;
  /** Made by dynamic client registration (RFC 7591). */
  registered: boolean;
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

/**
 * A client as oidc-provider is given it (the adapter's `Client` model): the stored metadata,
 * with the API scopes as `allowed_scope` (oidc-provider accepts in `scope` only the OpenID
 * scopes it is configured with), and the secret's hash as `client_secret`. src/oidc/provider.ts
 * declares the extra names to oidc-provider; src/oidc/clientMetadata.ts reads them back.
 */
export type ProviderClientMetadata = Omit<StoredClientFields, 'scope'> & {
  allowed_scope: string;
  client_id: string;
  client_secret?: string;
  previous_secret_hash?: string;
  /** Seconds since the epoch; present only while the grace period lasts. */
  previous_secret_expires_at?: number;
  /** Stored metadata beyond the named fields (see storedClientMetadataSchema). */
  [key: string]: unknown;
};

/** Tells hashed secrets from anything else that might sit in `client_secret`. */
const SECRET_HASH_PREFIX = 'hmac-sha256:';

type ClientRow = { id: string; name: string; public: boolean; metadata: unknown; registered: boolean; createdAt: Date };

/** The one reading of a row's stored metadata. */
function readMetadata(row: { metadata: unknown }): StoredClientMetadata {
  return storedClientMetadataSchema.parse(row.metadata);
}

/** Prisma's JSON input type cannot name `unknown` values; the stored metadata is plain JSON. */
const json = (metadata: StoredClientMetadata): object => metadata;

function summarize(row: ClientRow): ClientSummary {
  const metadata = readMetadata(row);
  return {
    client_id: row.id,
    name: row.name,
    public: row.public,
    grant_types: metadata.grant_types,
    redirect_uris: metadata.redirect_uris,
    scope: metadata.scope,
    token_endpoint_auth_method: metadata.token_endpoint_auth_method,
    default_resource: metadata.default_resource ?? null,
    require_pushed_authorization_requests: metadata.require_pushed_authorization_requests === true,
    dpop_bound_access_tokens: metadata.dpop_bound_access_tokens === true,
    profile: metadata.profile ?? null,
    require_mfa: metadata.require_mfa === true,
    login_connection: metadata.login_connection ?? null,
    organization_id: metadata.organization_id ?? null,
    registered: row.registered,
    created_at: row.createdAt.toISOString(),
  };
}

/** A client id never starts with "-" or "_": it is typed as a command-line argument. */
function newClientId(): string {
  let clientId = randomSecret(16);
  while (!/^[A-Za-z0-9]/.test(clientId)) clientId = randomSecret(16);
  return clientId;
}

/** The wire names of the fields an update was given. */
const changedFields = (changes: Record<string, unknown>) => Object.keys(changes).filter((field) => changes[field] !== undefined);

/** Stored metadata no surface sets (see storedClientMetadataSchema): kept through every change. */
const unnamedMetadata = (stored: StoredClientMetadata) =>
  Object.fromEntries(Object.entries(stored).filter(([field]) => !storedClientFieldNames.has(field)));

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
  const cache = createTtlCache<ProviderClientMetadata | null>(CLIENT_CACHE_MS);

  async function loadProviderMetadata(clientId: string): Promise<ProviderClientMetadata | undefined> {
    const row = await prisma.client.findUnique({ where: { id: clientId } });
    if (!row) return undefined;
    const { scope, ...metadata } = readMetadata(row);
    return {
      ...metadata,
      allowed_scope: scope,
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

  async function findRow(clientId: string) {
    const row = isStorableText(clientId) ? await prisma.client.findUnique({ where: { id: clientId } }) : null;
    if (!row) throw new NotFoundError(`client ${clientId}`);
    return row;
  }

  async function requireResource(audience: string | undefined): Promise<void> {
    if (audience === undefined) return;
    const found = await prisma.apiResource.findUnique({ where: { audience }, select: { id: true } });
    if (!found) throw new InputError('default_resource', `no API resource has audience ${audience}`);
  }

  async function requireOrganization(id: string | undefined): Promise<void> {
    if (id === undefined) return;
    const found = isStorableText(id) ? await prisma.organization.findUnique({ where: { id }, select: { id: true } }) : null;
    if (!found) throw new InputError('organization_id', `no organization has the id ${id}`);
  }

  const hashSecret = (secret: string) => SECRET_HASH_PREFIX + keyedHash(pepper, secret);

  const service = {
    /**
     * Registers a client. Its id and secret are generated unless `given` (configuration as code
     * names its clients, and brings a secret made elsewhere); a given secret is returned no more
     * than it is stored.
     */
    async create(input: ClientCreateInput, actor: Actor, given: ClientGiven = {}): Promise<CreatedClient> {
      const settings = parseInput(clientCreateSchema, input);
      const chosen = parseInput(clientGivenSchema, given);
      const metadata = clientMetadata(settings);
      const withSecret = usesSecret(metadata.token_endpoint_auth_method);
      if (chosen.client_secret !== undefined && !withSecret) {
        throw new InputError('client_secret', `a client that authenticates with ${metadata.token_endpoint_auth_method} has no secret`);
      }
      await requireResource(metadata.default_resource);
      await requireOrganization(metadata.organization_id);
      const clientId = chosen.client_id ?? newClientId();
      if (chosen.client_id !== undefined && (await prisma.client.findUnique({ where: { id: clientId }, select: { id: true } }))) {
        throw new ConflictError(`a client with id ${clientId} already exists`);
      }
      const generated = withSecret && chosen.client_secret === undefined ? randomSecret(32) : undefined;
      const secret = chosen.client_secret ?? generated;
      await prisma.client.create({
        data: {
          id: clientId,
          name: metadata.client_name,
          public: settings.public,
          metadata: json(metadata),
          secretHash: secret ? hashSecret(secret) : null,
          organizationId: metadata.organization_id ?? null,
        },
      });
      await audit.record({
        type: 'client.created',
        ...actorFields(actor),
        subject: clientId,
        outcome: 'success',
        details: { grant_types: metadata.grant_types },
      });
      return { client_id: clientId, ...(generated ? { client_secret: generated } : {}) };
    },

    /** Every client, described whole (never a secret): what `portcullis export` writes. */
    /** Every client an administrator made (configuration as code's; a registered client is its own owner's). */
    async definitions(): Promise<ClientDefinition[]> {
      const rows = await prisma.client.findMany({ where: { registered: false }, orderBy: { id: 'asc' } });
      return rows.map((row) => definitionOf(row.id, row, readMetadata(row)));
    },

    /**
     * Gives a client all of its settings anew (what creation takes: configuration as code
     * describes each client whole), under the rules of creation and of replacedFields (whether
     * it is public, and whether it has a secret, stay). Settings that change nothing write
     * nothing and record nothing; otherwise one `client.updated` names the fields changed.
     */
    async replace(clientId: string, input: ClientCreateInput, actor: Actor): Promise<ClientSummary> {
      const settings = parseInput(clientCreateSchema, input);
      const metadata = clientMetadata(settings);
      const row = await findRow(clientId);
      const stored = readMetadata(row);
      const fields = replacedFields(definitionOf(clientId, row, stored), definitionOf(clientId, settings, metadata));
      if (fields.length === 0) return summarize(row);
      await requireResource(metadata.default_resource);
      await requireOrganization(metadata.organization_id);
      const updated = await prisma.client.update({
        where: { id: clientId },
        data: {
          name: metadata.client_name,
          metadata: json({ ...unnamedMetadata(stored), ...metadata }),
          organizationId: metadata.organization_id ?? null,
        },
      });
      cache.delete(clientId);
      await audit.record({ type: 'client.updated', ...actorFields(actor), subject: clientId, outcome: 'success', details: { fields } });
      return summarize(updated);
    },

    /** Whether `secret` is the client's current secret (keyed hash, compared in constant time). */
    async secretMatches(clientId: string, secret: string): Promise<boolean> {
      const row = await findRow(clientId);
      return typeof row.secretHash === 'string' && constantTimeEqual(row.secretHash, hashSecret(secret));
    },

    /**
     * Makes `client_secret` (made elsewhere) the client's secret, at once: the one it replaces,
     * and any previous one still in its grace period, stop working. For a change with a grace
     * period, rotateSecret.
     */
    async setSecret(clientId: string, input: ClientSecretSetInput, actor: Actor): Promise<void> {
      const { client_secret: secret } = parseInput(clientSecretSetSchema, input);
      const row = await findRow(clientId);
      if (!row.secretHash) throw new InputError('client_secret', 'this client does not authenticate with a secret');
      // Conditioned on the hash we read, as a rotation is.
      const { count } = await prisma.client.updateMany({
        where: { id: clientId, secretHash: row.secretHash },
        data: { secretHash: hashSecret(secret), previousSecretHash: null, previousSecretExpiresAt: null },
      });
      if (count !== 1) throw new ConflictError("the client's secret was changed by someone else at the same time; try again");
      cache.delete(clientId);
      await audit.record({ type: 'client.secret_set', ...actorFields(actor), subject: clientId, outcome: 'success' });
    },

    async get(clientId: string): Promise<ClientSummary> {
      return summarize(await findRow(clientId));
    },

    /**
     * Changes a client's name, redirect URIs, scope, whether it requires a second factor, or the one
     * connection it is signed in to through. The changes are merged into the stored
     * settings and the merged client must pass the rules of creation.
     */
    async update(clientId: string, input: ClientUpdateInput, actor: Actor): Promise<ClientSummary> {
      const changes = parseInput(clientUpdateSchema, input);
      const row = await findRow(clientId);
      const stored = readMetadata(row);
      const current = settingsOf(row, stored);
      const metadata = clientMetadata({
        ...current,
        name: changes.name ?? current.name,
        redirect_uris: changes.redirect_uris ?? current.redirect_uris,
        post_logout_redirect_uris: changes.post_logout_redirect_uris ?? current.post_logout_redirect_uris,
        scope: changes.scope ?? current.scope,
        require_mfa: changes.require_mfa ?? current.require_mfa,
        // null clears it; absent keeps it.
        login_connection: changes.login_connection === undefined ? current.login_connection : changes.login_connection,
        organization_id: changes.organization_id === undefined ? current.organization_id : changes.organization_id,
      });
      await requireOrganization(metadata.organization_id);
      const updated = await prisma.client.update({
        where: { id: clientId },
        // Stored metadata no surface sets (see storedClientMetadataSchema) is kept; the named
        // fields are the rules' anew, so a flag turned off (require_mfa) does not linger.
        data: {
          name: metadata.client_name,
          metadata: json({ ...unnamedMetadata(stored), ...metadata }),
          organizationId: metadata.organization_id ?? null,
        },
      });
      cache.delete(clientId);
      await audit.record({
        type: 'client.updated',
        ...actorFields(actor),
        subject: clientId,
        outcome: 'success',
        details: { fields: changedFields(changes) },
      });
      return summarize(updated);
    },

    /**
     * Deletes a client and every token, code and grant issued to it, and revokes the API keys it
     * owns (so the tokens exchanged from them go too): nothing outlives its owner.
     */
    async delete(clientId: string, actor: Actor): Promise<void> {
      const row = isStorableText(clientId) ? await prisma.client.findUnique({ where: { id: clientId }, select: { id: true } }) : null;
      if (!row) throw new NotFoundError(`client ${clientId}`);
      // One transaction: the keys revoked are exactly the keys listed (and audited) below.
      const keys = await prisma.$transaction(async (tx) => {
        const owned = await tx.apiKey.findMany({ where: { ownerClientId: clientId, revokedAt: null }, select: { id: true } });
        await tx.providerArtifact.deleteMany({ where: { clientId } });
        await tx.apiKey.updateMany({ where: { id: { in: owned.map((key) => key.id) } }, data: { revokedAt: new Date() } });
        await tx.clientRole.deleteMany({ where: { clientId } });
        await tx.client.delete({ where: { id: clientId } });
        return owned;
      });
      cache.delete(clientId);
      onDeleted?.(clientId);
      await audit.record({
        type: 'client.deleted',
        ...actorFields(actor),
        subject: clientId,
        outcome: 'success',
        details: { api_keys_revoked: keys.length },
      });
      // Each key's own event: the cascade is Portcullis's doing, the deletion the actor's.
      for (const key of keys) {
        await audit.record({
          type: 'api_key.revoked',
          ...actorFields(SYSTEM_ACTOR),
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
    async findProviderMetadata(clientId: string): Promise<ProviderClientMetadata | undefined> {
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

    /** Gives the client a new secret; the old one keeps working for `grace_seconds` (0: not at all). */
    async rotateSecret(clientId: string, input: ClientSecretRotateInput, actor: Actor): Promise<RotatedSecret> {
      const { grace_seconds: graceSeconds } = parseInput(clientSecretRotateSchema, input);
      const row = await findRow(clientId);
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
        ...actorFields(actor),
        subject: clientId,
        outcome: 'success',
        details: { grace_seconds: graceSeconds },
      });
      return { client_id: clientId, client_secret: secret, previous_secret_expires_at: previousSecretExpiresAt.toISOString() };
    },
  };
  // Clients that register themselves (RFC 7591, 7592) and their initial access tokens: the same
  // rules and the same writes as the changes above (src/clients/registration.ts).
  return { ...service, ...createClientRegistration({ prisma, pepper, audit, hashSecret, newClientId, clients: service }) };
}

export type ClientService = ReturnType<typeof createClientService>;
