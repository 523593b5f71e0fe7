// Clients that register themselves (RFC 7591) and manage their own registration (RFC 7592), with
// an initial access token an administrator made (initialAccessTokens.ts). A registered client is
// made by the rules every client is (rules.ts: PKCE, exact redirect URIs, no javascript: or data:
// redirect, public or confidential, private_key_jwt with public keys), and may have only the grant
// types and API scopes its token allows. Registered clients are marked `registered`: only they can
// be changed or deleted this way, never an administrator's.
//
// oidc-provider runs the endpoints (src/oidc/registration.ts) and hands the results here.
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import type { Prisma } from '../db/index.ts';
import { InputError, NotFoundError } from '../errors/index.ts';
import { isStorableText, parseInput, scopeWords } from '../oauth/index.ts';
import { createRegistrationTokenService, type RegistrationAllowance } from './initialAccessTokens.ts';
import { clientMetadata, settingsOf, usesSecret, type ClientSettings } from './rules.ts';
import { clientCreateSchema, storedClientMetadataSchema, type ClientCreateInput, type StoredClientFields } from './schema.ts';

/** Metadata RFC 7591 defines that Portcullis cannot honour: refused rather than silently dropped. */
const REFUSED_METADATA: Record<string, string> = {
  jwks_uri: 'is not supported: register the public keys by value, as jwks',
  sector_identifier_uri: 'is not supported',
  software_statement: 'software statements are not accepted',
};

/** The fields of a registration request Portcullis keeps (RFC 7591 section 2, and two of RFC 9126 and RFC 9449). */
const KEPT_METADATA = [
  'client_name',
  'grant_types',
  'response_types',
  'redirect_uris',
  'post_logout_redirect_uris',
  'token_endpoint_auth_method',
  'scope',
  'jwks',
  'require_pushed_authorization_requests',
  'dpop_bound_access_tokens',
] as const;

/** The client service's field names where RFC 7591 names them differently. */
const RFC_FIELD: Record<string, string> = { name: 'client_name', public: 'token_endpoint_auth_method' };

/** An InputError of the client service, with the field as RFC 7591 names it. */
function inRfcTerms(error: unknown): unknown {
  if (!(error instanceof InputError) || !(error.field in RFC_FIELD)) return error;
  const reason = error.message.startsWith(`${error.field}: `) ? error.message.slice(error.field.length + 2) : error.message;
  return new InputError(RFC_FIELD[error.field]!, reason);
}

/**
 * A registration request (or an RFC 7592 update, which gives the metadata whole) as the client
 * service's create input, checked by the rules of every client: what a client registered with it
 * will be. RFC 7591's defaults apply to what is left out (section 2: the code grant,
 * client_secret_basic); metadata not listed in KEPT_METADATA is ignored, as section 2 asks, except
 * REFUSED_METADATA. Throws InputError naming the field as RFC 7591 does.
 */
export function registrationRequest(
  request: Record<string, unknown>,
  clientId: string,
): { input: ClientCreateInput; metadata: StoredClientFields } {
  for (const [field, reason] of Object.entries(REFUSED_METADATA)) {
    if (request[field] !== undefined) throw new InputError(field, reason);
  }
  const given = Object.fromEntries(KEPT_METADATA.filter((field) => request[field] !== undefined).map((field) => [field, request[field]]));
  const method = given.token_endpoint_auth_method ?? 'client_secret_basic';
  const grantTypes = given.grant_types ?? ['authorization_code'];
  const input = {
    name: given.client_name ?? clientId,
    grant_types: grantTypes,
    redirect_uris: given.redirect_uris,
    post_logout_redirect_uris: given.post_logout_redirect_uris,
    scope: given.scope,
    // RFC 7591's `none` is the client service's public client: no secret, PKCE only.
    public: method === 'none',
    token_endpoint_auth_method: method === 'none' ? undefined : method,
    jwks: given.jwks,
    require_pushed_authorization_requests: given.require_pushed_authorization_requests,
    dpop_bound_access_tokens: given.dpop_bound_access_tokens,
  };
  try {
    const settings = parseInput(clientCreateSchema, input);
    const metadata = clientMetadata(settings);
    checkResponseTypes(given.response_types, metadata.grant_types);
    return { input: settings, metadata };
  } catch (error) {
    throw inRfcTerms(error);
  }
}

/** RFC 7591 section 2.1: response_types must agree with grant_types; only `code` is offered. */
function checkResponseTypes(responseTypes: unknown, grantTypes: readonly string[]): void {
  if (responseTypes === undefined) return;
  if (!Array.isArray(responseTypes) || responseTypes.some((type) => typeof type !== 'string')) {
    throw new InputError('response_types', 'must be an array of strings');
  }
  const other = responseTypes.find((type) => type !== 'code');
  if (other !== undefined) throw new InputError('response_types', `${JSON.stringify(other)} is not supported: only code`);
  const code = grantTypes.includes('authorization_code');
  if (code !== responseTypes.includes('code')) {
    throw new InputError('response_types', 'code goes with the authorization_code grant, and only with it (RFC 7591 section 2.1)');
  }
}

/** Whether `metadata` stays within what was allowed; `always` are scopes every client may ask for (OpenID Connect's). */
function checkAllowance(metadata: StoredClientFields, allowance: RegistrationAllowance, always: ReadonlySet<string>, why: string): void {
  const grant = metadata.grant_types.find((item) => !allowance.grantTypes.has(item));
  if (grant) throw new InputError('grant_types', `${grant} ${why} (allowed: ${[...allowance.grantTypes].join(', ') || 'none'})`);
  const scope = scopeWords(metadata.scope).find((item) => !allowance.scope.has(item) && !always.has(item));
  if (scope) throw new InputError('scope', `${scope} ${why} (allowed: ${[...allowance.scope, ...always].join(' ')})`);
}

/** Prisma's JSON input type cannot name `unknown` values; the stored metadata is plain JSON. */
const json = (metadata: StoredClientFields): object => metadata;

export interface ClientRegistrationOptions {
  prisma: Prisma;
  pepper: string;
  audit: AuditLog;
  /** The client service's keyed hash of a secret (the form every client secret is stored in). */
  hashSecret: (secret: string) => string;
  /** The client service's generator of client ids. */
  newClientId: () => string;
  /** The client service's own changes, which a registered client's go through. */
  clients: {
    replace(clientId: string, input: ClientCreateInput, actor: Actor): Promise<unknown>;
    delete(clientId: string, actor: Actor): Promise<void>;
  };
}

export interface Registration {
  /** The client's id (oidc-provider's idFactory). */
  clientId: string;
  /** The secret oidc-provider generated, in clear, when the client authenticates with one. */
  clientSecret?: string;
  /** The request, as registrationRequest made it. */
  input: ClientCreateInput;
  /** The initial access token presented, as its holder sent it. */
  token: string;
  /** Where the request came from (for the audit log). */
  ip?: string;
}

export function createClientRegistration({ prisma, pepper, audit, hashSecret, newClientId, clients }: ClientRegistrationOptions) {
  const registrationTokens = createRegistrationTokenService({ prisma, pepper, audit });

  /** A client made by registration, or NotFoundError: an administrator's client is never changed through /reg. */
  async function findRegistered(clientId: string) {
    const row = isStorableText(clientId) ? await prisma.client.findUnique({ where: { id: clientId } }) : null;
    if (!row?.registered) throw new NotFoundError(`registered client ${clientId}`);
    return row;
  }

  return {
    registrationTokens,

    /** The id of a client about to register (oidc-provider's idFactory): the kind every client id is. */
    newRegisteredClientId: newClientId,

    /**
     * Writes a registered client and spends a use of its token, in one transaction. Throws
     * InputError when the rules or the token's allowance refuse the request; false when the
     * token is no longer good (expired, used up or deleted since it was presented).
     */
    async register({ clientId, clientSecret, input, token, ip }: Registration, always: ReadonlySet<string>): Promise<boolean> {
      let settings: ClientSettings;
      let metadata: StoredClientFields;
      try {
        settings = parseInput(clientCreateSchema, input);
        metadata = clientMetadata(settings);
      } catch (error) {
        throw inRfcTerms(error);
      }
      const allowance = await registrationTokens.allowance(token);
      if (!allowance) return false;
      checkAllowance(metadata, allowance, always, 'is not allowed for registration with this token');
      const secret = usesSecret(metadata.token_endpoint_auth_method) ? clientSecret : undefined;
      if (usesSecret(metadata.token_endpoint_auth_method) && !secret) throw new Error('a registered client of this kind needs its secret');
      const written = await prisma.$transaction(async (tx) => {
        if (!(await registrationTokens.spend(tx, allowance.id))) return false;
        await tx.client.create({
          data: {
            id: clientId,
            name: metadata.client_name,
            public: settings.public,
            metadata: json(metadata),
            secretHash: secret ? hashSecret(secret) : null,
            registered: true,
          },
        });
        return true;
      });
      if (!written) return false;
      // The actor is the token (by its id, never its value): the administrator's authority, lent.
      await audit.record({
        type: 'client.registered',
        ...actorFields({ type: 'initial_access_token', id: allowance.id, ...(ip ? { ip } : {}) }),
        subject: clientId,
        outcome: 'success',
        details: { grant_types: metadata.grant_types, public: settings.public },
      });
      return true;
    },

    /**
     * RFC 7592 section 2.2: the client's metadata replaced whole, under the rules of creation (and
     * replacedFields': whether it is public, and whether it has a secret, stay). An update may
     * not add a grant type or an API scope the client does not have: what its token allowed was
     * checked when it registered, and the token may be gone since.
     */
    async updateRegistered(clientId: string, input: ClientCreateInput, always: ReadonlySet<string>, actor: Actor): Promise<void> {
      const row = await findRegistered(clientId);
      const stored = storedClientMetadataSchema.parse(row.metadata);
      let metadata: StoredClientFields;
      try {
        metadata = clientMetadata(parseInput(clientCreateSchema, input));
      } catch (error) {
        throw inRfcTerms(error);
      }
      const current = settingsOf(row, stored);
      checkAllowance(
        metadata,
        { grantTypes: new Set(current.grant_types), scope: new Set(scopeWords(current.scope)) },
        always,
        'cannot be added by an update: the client was registered without it',
      );
      try {
        // Whether sign-ins need a second factor, through which connection alone, and which
        // organization the client belongs to are the administrator's settings, not the client's:
        // RFC 7592's whole replacement keeps them as they are.
        await clients.replace(
          clientId,
          {
            ...input,
            require_mfa: current.require_mfa,
            login_connection: current.login_connection,
            ...(current.organization_id ? { organization_id: current.organization_id } : {}),
          },
          actor,
        );
      } catch (error) {
        throw inRfcTerms(error);
      }
    },

    /** RFC 7592 section 2.3: deletes a registered client and everything issued to it. */
    async deleteRegistered(clientId: string, actor: Actor): Promise<void> {
      await findRegistered(clientId);
      await clients.delete(clientId, actor);
    },
  };
}

export type ClientRegistration = ReturnType<typeof createClientRegistration>;
