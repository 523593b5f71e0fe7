// Connections: the upstream identity providers an operator made, their rules, and their storage.
// A connection is checked whole when saved: its type's fields (an issuer for OpenID Connect, the
// three endpoints for OAuth 2.0), https in production, a claim mapping onto known fields only,
// and, for OpenID Connect, the discovery document fetched and matching its issuer. The client
// secret is sealed under KEY_ENCRYPTION_KEY and never shown again.
import crypto from 'node:crypto';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import { seal, unseal } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, InputError, NotFoundError } from '../errors/index.ts';
import { parseInput } from '../oauth/index.ts';
import { checkedDefinition, connectionDefinition, definitionOfView, type ConnectionDefinition } from './definition.ts';
import {
  connectionCreateSchema,
  connectionUpdateSchema,
  type ClaimMapping,
  type ConnectionCreateInput,
  type ConnectionType,
  type ConnectionUpdateInput,
  type ConnectionView,
} from './schema.ts';
import { UpstreamError, type Upstreams, type UpstreamSettings } from './upstream.ts';

type ConnectionRow = NonNullable<Awaited<ReturnType<Prisma['connection']['findUnique']>>>;

/** A connection as the sign-in uses it: its settings, with the secret unsealed. */
export interface Connection extends UpstreamSettings {
  name: string;
  displayName: string;
  scope: string;
  claimMapping: ClaimMapping;
  trustEmailVerified: boolean;
  createAccounts: boolean;
  storeTokens: boolean;
  enabled: boolean;
}

/** A connection's button on the login page. */
export interface ConnectionButton {
  name: string;
  displayName: string;
}

export interface ConnectionOptions {
  prisma: Prisma;
  audit: AuditLog;
  upstreams: Upstreams;
  /** KEY_ENCRYPTION_KEY as base64url, and the pepper: what the client secret is sealed under. */
  sealingKey: string;
  pepper: string;
  issuer: string;
  /** Production refuses http: upstreams. */
  production: boolean;
}

export function createConnections({ prisma, audit, upstreams, sealingKey, pepper, issuer, production }: ConnectionOptions) {
  const base = issuer.replace(/\/$/, '');
  const callbackUrl = (name: string) => `${base}/federation/${name}/callback`;
  const sealSecret = (id: string, secret: string) => seal(sealingKey, pepper, `connection-secret:${id}`, secret);

  function view(row: ConnectionRow): ConnectionView {
    return {
      id: row.id,
      name: row.name,
      type: row.type as ConnectionType,
      preset: row.preset,
      display_name: row.displayName,
      issuer: row.issuer,
      authorization_url: row.authorizationUrl,
      token_url: row.tokenUrl,
      userinfo_url: row.userinfoUrl,
      client_id: row.clientId,
      token_endpoint_auth_method: row.tokenEndpointAuthMethod as ConnectionView['token_endpoint_auth_method'],
      scope: row.scope,
      claim_mapping: row.claimMapping as ClaimMapping,
      trust_email_verified: row.trustEmailVerified,
      create_accounts: row.createAccounts,
      store_tokens: row.storeTokens,
      enabled: row.enabled,
      position: row.position,
      callback_url: callbackUrl(row.name),
      created_at: row.createdAt.toISOString(),
      updated_at: row.updatedAt.toISOString(),
    };
  }

  function connectionOf(row: ConnectionRow): Connection {
    const secret = unseal(sealingKey, pepper, `connection-secret:${row.id}`, row.clientSecret);
    // A secret that does not unseal (KEY_ENCRYPTION_KEY changed) fails upstream as a bad client, said once in the log.
    return {
      id: row.id,
      name: row.name,
      type: row.type as ConnectionType,
      displayName: row.displayName,
      issuer: row.issuer,
      authorizationUrl: row.authorizationUrl,
      tokenUrl: row.tokenUrl,
      userinfoUrl: row.userinfoUrl,
      clientId: row.clientId,
      clientSecret: secret ?? '',
      tokenEndpointAuthMethod: row.tokenEndpointAuthMethod,
      scope: row.scope,
      claimMapping: row.claimMapping as ClaimMapping,
      trustEmailVerified: row.trustEmailVerified,
      createAccounts: row.createAccounts,
      storeTokens: row.storeTokens,
      enabled: row.enabled,
      version: row.updatedAt.toISOString(),
    };
  }

  /** A definition's settings as the Connection table's columns (all but the id, name, secret and preset). */
  const columnsOf = (definition: ConnectionDefinition) => ({
    type: definition.type,
    displayName: definition.display_name,
    issuer: definition.issuer,
    authorizationUrl: definition.authorization_url,
    tokenUrl: definition.token_url,
    userinfoUrl: definition.userinfo_url,
    clientId: definition.client_id,
    tokenEndpointAuthMethod: definition.token_endpoint_auth_method,
    scope: definition.scope,
    claimMapping: definition.claim_mapping,
    trustEmailVerified: definition.trust_email_verified,
    createAccounts: definition.create_accounts,
    storeTokens: definition.store_tokens,
    enabled: definition.enabled,
    position: definition.position,
  });

  /** OpenID Connect: the discovery document must be there and name the same issuer. */
  async function checkUpstream(id: string, definition: ConnectionDefinition, clientSecret: string): Promise<void> {
    if (definition.type !== 'oidc') return;
    try {
      await upstreams.check({
        id,
        type: definition.type,
        issuer: definition.issuer,
        authorizationUrl: null,
        tokenUrl: null,
        userinfoUrl: null,
        clientId: definition.client_id,
        clientSecret,
        tokenEndpointAuthMethod: definition.token_endpoint_auth_method,
        version: 'check',
      });
    } catch (error) {
      const problem = error instanceof UpstreamError ? error : undefined;
      const unexpectedIssuer = /issuer/i.test(problem?.message ?? '') && problem?.problem === 'bad_response';
      throw new InputError(
        'issuer',
        unexpectedIssuer
          ? `its discovery document (${definition.issuer}/.well-known/openid-configuration) names another issuer`
          : `its discovery document could not be read: ${problem?.message ?? 'unknown error'}`,
      );
    }
  }

  async function row(name: string): Promise<ConnectionRow> {
    const found = await prisma.connection.findUnique({ where: { name } });
    if (!found) throw new NotFoundError(`connection ${name}`);
    return found;
  }

  return {
    callbackUrl,

    async create(input: ConnectionCreateInput, actor: Actor): Promise<ConnectionView> {
      const { client_secret: secret, ...settings } = parseInput(connectionCreateSchema, input);
      const definition = connectionDefinition(settings, { production });
      if (await prisma.connection.findUnique({ where: { name: definition.name }, select: { id: true } }))
        throw new ConflictError(`a connection named ${definition.name} already exists`);
      const id = crypto.randomUUID();
      await checkUpstream(id, definition, secret);
      const created = await prisma.connection.create({
        data: { id, name: definition.name, preset: definition.preset, ...columnsOf(definition), clientSecret: sealSecret(id, secret) },
      });
      await audit.record({
        type: 'connection.created',
        ...actorFields(actor),
        subject: definition.name,
        outcome: 'success',
        details: { type: definition.type, ...(definition.preset ? { preset: definition.preset } : {}) },
      });
      return view(created);
    },

    async list(): Promise<ConnectionView[]> {
      const rows = await prisma.connection.findMany({ orderBy: [{ position: 'asc' }, { name: 'asc' }] });
      return rows.map(view);
    },

    async get(name: string): Promise<ConnectionView> {
      return view(await row(name));
    },

    async update(name: string, input: ConnectionUpdateInput, actor: Actor): Promise<ConnectionView> {
      const { client_secret: secret, claim_mapping: mapping, ...changes } = parseInput(connectionUpdateSchema, input);
      const current = await row(name);
      const before = definitionOfView(view(current));
      // What is not given stays; a claim mapping changes only the fields it names.
      const definition = checkedDefinition(
        { ...before, ...changes, claim_mapping: { ...before.claim_mapping, ...mapping } as ClaimMapping },
        { production },
      );
      if (changes.issuer !== undefined || changes.client_id !== undefined || secret !== undefined)
        await checkUpstream(current.id, definition, secret ?? '');
      const updated = await prisma.connection.update({
        where: { id: current.id },
        data: { ...columnsOf(definition), ...(secret !== undefined ? { clientSecret: sealSecret(current.id, secret) } : {}) },
      });
      const changed = [...Object.keys(changes), ...(mapping ? ['claim_mapping'] : [])];
      await audit.record({
        type: 'connection.updated',
        ...actorFields(actor),
        subject: name,
        outcome: 'success',
        // Never the secret: only that it was replaced.
        details: { fields: changed, ...(secret !== undefined ? { client_secret: 'replaced' } : {}) },
      });
      return view(updated);
    },

    /** Deletes a connection and every link to it (the local accounts stay). */
    async delete(name: string, actor: Actor): Promise<{ identities: number }> {
      const current = await row(name);
      const identities = await prisma.$transaction(async (tx) => {
        const { count } = await tx.federatedIdentity.deleteMany({ where: { connectionId: current.id } });
        await tx.connection.delete({ where: { id: current.id } });
        return count;
      });
      await audit.record({ type: 'connection.deleted', ...actorFields(actor), subject: name, outcome: 'success', details: { identities } });
      return { identities };
    },

    /** The enabled connections, in their login-page order. */
    async buttons(): Promise<ConnectionButton[]> {
      const rows = await prisma.connection.findMany({
        where: { enabled: true },
        orderBy: [{ position: 'asc' }, { displayName: 'asc' }],
        select: { name: true, displayName: true },
      });
      return rows;
    },

    /** An enabled connection by name, with its secret, for a sign-in; undefined when there is none. */
    async forSignIn(name: string): Promise<Connection | undefined> {
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) return undefined;
      const found = await prisma.connection.findUnique({ where: { name } });
      return found?.enabled ? connectionOf(found) : undefined;
    },

    async byId(id: string): Promise<Connection | undefined> {
      const found = await prisma.connection.findUnique({ where: { id } });
      return found ? connectionOf(found) : undefined;
    },
  };
}

export type Connections = ReturnType<typeof createConnections>;
