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
import { normalizeScope, parseInput, scopeWords } from '../oauth/index.ts';
import { PRESETS, type Preset, type PresetName } from './presets.ts';
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

const DEFAULT_MAPPING: ClaimMapping = { subject: 'sub', email: 'email', name: 'name', email_verified: 'email_verified' };

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

  /** An upstream URL: absolute http(s), https in production, no fragment. */
  function checkedUrl(field: string, value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new InputError(field, 'must be an absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InputError(field, 'must be an https: URL');
    if (production && url.protocol !== 'https:') throw new InputError(field, 'must be an https: URL in production');
    if (url.hash) throw new InputError(field, 'must not have a fragment');
    if (url.username || url.password) throw new InputError(field, 'must not carry a user name or password');
    return value;
  }

  interface Settled {
    type: ConnectionType;
    displayName: string;
    issuer: string | null;
    authorizationUrl: string | null;
    tokenUrl: string | null;
    userinfoUrl: string | null;
    scope: string;
    claimMapping: ClaimMapping;
    trustEmailVerified: boolean;
    tokenEndpointAuthMethod: string;
  }

  /** The rules across fields: each type's endpoints, the scope, the mapping. */
  function settle(fields: Settled): Settled {
    const issuerUrl = checkedUrl('issuer', fields.issuer ?? undefined) ?? null;
    const authorizationUrl = checkedUrl('authorization_url', fields.authorizationUrl ?? undefined) ?? null;
    const tokenUrl = checkedUrl('token_url', fields.tokenUrl ?? undefined) ?? null;
    const userinfoUrl = checkedUrl('userinfo_url', fields.userinfoUrl ?? undefined) ?? null;
    const scope = normalizeScope(fields.scope, 'scope');
    if (fields.type === 'oidc') {
      if (!issuerUrl) throw new InputError('issuer', 'is required for an OpenID Connect connection');
      for (const [field, value] of [
        ['authorization_url', authorizationUrl],
        ['token_url', tokenUrl],
        ['userinfo_url', userinfoUrl],
      ] as const)
        if (value) throw new InputError(field, 'is for OAuth 2.0 connections: an OpenID Connect one takes its endpoints from discovery');
      if (!scopeWords(scope).includes('openid')) throw new InputError('scope', 'must include openid for an OpenID Connect connection');
    } else {
      if (!authorizationUrl) throw new InputError('authorization_url', 'is required for an OAuth 2.0 connection');
      if (!tokenUrl) throw new InputError('token_url', 'is required for an OAuth 2.0 connection');
      if (!userinfoUrl) throw new InputError('userinfo_url', 'is required for an OAuth 2.0 connection');
    }
    if (!fields.claimMapping.subject) throw new InputError('claim_mapping', 'subject must name an upstream claim');
    return { ...fields, issuer: issuerUrl, authorizationUrl, tokenUrl, userinfoUrl, scope };
  }

  /** OpenID Connect: the discovery document must be there and name the same issuer. */
  async function checkUpstream(id: string, fields: Settled, clientId: string, clientSecret: string): Promise<void> {
    if (fields.type !== 'oidc') return;
    try {
      await upstreams.check({ id, ...fields, clientId, clientSecret, version: 'check' });
    } catch (error) {
      const problem = error instanceof UpstreamError ? error : undefined;
      const unexpectedIssuer = /issuer/i.test(problem?.message ?? '') && problem?.problem === 'bad_response';
      throw new InputError(
        'issuer',
        unexpectedIssuer
          ? `its discovery document (${fields.issuer}/.well-known/openid-configuration) names another issuer`
          : `its discovery document could not be read: ${problem?.message ?? 'unknown error'}`,
      );
    }
  }

  async function row(name: string): Promise<ConnectionRow> {
    const found = await prisma.connection.findUnique({ where: { name } });
    if (!found) throw new NotFoundError(`connection ${name}`);
    return found;
  }

  const presetOf = (name: string | undefined): Preset | undefined => (name ? PRESETS[name as PresetName] : undefined);

  return {
    callbackUrl,

    async create(input: ConnectionCreateInput, actor: Actor): Promise<ConnectionView> {
      const valid = parseInput(connectionCreateSchema, input);
      const preset = presetOf(valid.preset);
      const type = valid.type ?? preset?.type;
      if (!type) throw new InputError('type', 'is required (oidc or oauth2), unless a preset gives it');
      if (preset && valid.type && valid.type !== preset.type)
        throw new InputError('type', `must be ${preset.type} for the ${valid.preset} preset`);
      const displayName = valid.display_name ?? preset?.displayName;
      if (!displayName) throw new InputError('display_name', 'is required');
      const issuerValue = valid.issuer ?? preset?.issuer;
      if (!issuerValue && preset?.issuerHint)
        throw new InputError('issuer', `is required for the ${valid.preset} preset: ${preset.issuerHint}`);
      const settled = settle({
        type,
        displayName,
        issuer: issuerValue ?? null,
        authorizationUrl: valid.authorization_url ?? preset?.authorizationUrl ?? null,
        tokenUrl: valid.token_url ?? preset?.tokenUrl ?? null,
        userinfoUrl: valid.userinfo_url ?? preset?.userinfoUrl ?? null,
        scope: valid.scope ?? preset?.scope ?? (type === 'oidc' ? 'openid email profile' : ''),
        claimMapping: { ...(preset?.claimMapping ?? DEFAULT_MAPPING), ...valid.claim_mapping } as ClaimMapping,
        trustEmailVerified: valid.trust_email_verified ?? preset?.trustEmailVerified ?? false,
        tokenEndpointAuthMethod: valid.token_endpoint_auth_method ?? preset?.tokenEndpointAuthMethod ?? 'client_secret_basic',
      });
      if (await prisma.connection.findUnique({ where: { name: valid.name }, select: { id: true } }))
        throw new ConflictError(`a connection named ${valid.name} already exists`);
      const id = crypto.randomUUID();
      await checkUpstream(id, settled, valid.client_id, valid.client_secret);
      const created = await prisma.connection.create({
        data: {
          id,
          name: valid.name,
          preset: valid.preset ?? null,
          ...settled,
          clientId: valid.client_id,
          clientSecret: sealSecret(id, valid.client_secret),
          createAccounts: valid.create_accounts,
          storeTokens: valid.store_tokens,
          enabled: valid.enabled,
          position: valid.position,
        },
      });
      await audit.record({
        type: 'connection.created',
        ...actorFields(actor),
        subject: valid.name,
        outcome: 'success',
        details: { type, ...(valid.preset ? { preset: valid.preset } : {}) },
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
      const valid = parseInput(connectionUpdateSchema, input);
      const current = await row(name);
      const type = current.type as ConnectionType;
      const settled = settle({
        type,
        displayName: valid.display_name ?? current.displayName,
        issuer: valid.issuer ?? current.issuer,
        authorizationUrl: valid.authorization_url ?? current.authorizationUrl,
        tokenUrl: valid.token_url ?? current.tokenUrl,
        userinfoUrl: valid.userinfo_url ?? current.userinfoUrl,
        scope: valid.scope ?? current.scope,
        claimMapping: { ...(current.claimMapping as ClaimMapping), ...valid.claim_mapping } as ClaimMapping,
        trustEmailVerified: valid.trust_email_verified ?? current.trustEmailVerified,
        tokenEndpointAuthMethod: valid.token_endpoint_auth_method ?? current.tokenEndpointAuthMethod,
      });
      const clientId = valid.client_id ?? current.clientId;
      if (valid.issuer !== undefined || valid.client_id !== undefined || valid.client_secret !== undefined)
        await checkUpstream(current.id, settled, clientId, valid.client_secret ?? '');
      const updated = await prisma.connection.update({
        where: { id: current.id },
        data: {
          ...settled,
          clientId,
          ...(valid.client_secret !== undefined ? { clientSecret: sealSecret(current.id, valid.client_secret) } : {}),
          ...(valid.create_accounts !== undefined ? { createAccounts: valid.create_accounts } : {}),
          ...(valid.store_tokens !== undefined ? { storeTokens: valid.store_tokens } : {}),
          ...(valid.enabled !== undefined ? { enabled: valid.enabled } : {}),
          ...(valid.position !== undefined ? { position: valid.position } : {}),
        },
      });
      const changed = Object.keys(valid).filter((key) => key !== 'client_secret');
      await audit.record({
        type: 'connection.updated',
        ...actorFields(actor),
        subject: name,
        outcome: 'success',
        details: { fields: changed, ...(valid.client_secret !== undefined ? { client_secret: 'replaced' } : {}) },
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
