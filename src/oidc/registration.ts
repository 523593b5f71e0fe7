// RFC 7591 dynamic client registration and RFC 7592 management: oidc-provider's registration
// features, off unless CLIENT_REGISTRATION=on. oidc-provider runs the endpoints (POST /reg, and
// GET, PUT and DELETE /reg/:client_id with the registration access token); Portcullis decides:
//
// - who may register: only with an initial access token an administrator made, served to
//   oidc-provider from the client service (src/clients/initialAccessTokens.ts, keyed hashes);
// - what a registered client is: the one registration policy maps the request onto the client
//   service's input and checks it by the rules every client is made by (src/clients/rules.ts),
//   then leaves oidc-provider the metadata in the form the client store gives it (API scopes as
//   `allowed_scope`), so a request can set nothing the store would not;
// - where it is written: oidc-provider's writes of a client reach the adapter's Client model, which
//   hands them here, and they go to the client service (registered clients only) with the
//   request the policy checked, never the metadata oidc-provider assembled. A registration spends
//   a use of its token in the same transaction that writes the client;
// - what is answered: no stored hash is ever sent as `client_secret` (registrationAnswers).
//
// The registration access token is an oidc-provider artifact, stored hashed and sealed by the
// adapter like every other.
import { Readable } from 'node:stream';
import type { Middleware } from 'koa';
import Provider, { errors, type AdapterPayload, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { registrationRequest, usesSecret, type ClientCreateInput, type ClientService } from '../clients/index.ts';
import type { Config } from '../config/index.ts';
import { randomSecret } from '../crypto/index.ts';
import { InputError, NotFoundError } from '../errors/index.ts';
import { PORTCULLIS_METADATA } from './clientMetadata.ts';

type Features = NonNullable<Configuration['features']>;

/** The one registration policy: every initial access token names it, and so every registration access token. */
const POLICY = 'portcullis';

/** The path of RFC 7592's client configuration endpoint (oidc-provider's `/reg/:clientId`), and its body limit. */
const CLIENT_PATH = /\/reg\/([^/]+)\/?$/i;
const BODY_LIMIT = 56 * 1024;

/** oidc-provider's route names for the registration endpoints that answer a client's metadata. */
const ANSWERING_ROUTES = new Set(['registration', 'client', 'client_update']);

export interface RegistrationOptions {
  config: Config;
  clients: ClientService;
  /** The OpenID Connect scopes oidc-provider offers: every client may ask for them. */
  openIdScopes: readonly string[];
}

export interface Registration {
  /** oidc-provider's registration features. */
  features: Pick<Features, 'registration' | 'registrationManagement'>;
  /** The adapter's writes of clients and its InitialAccessToken model; nothing when registration is off. */
  adapter?: {
    saveClient(clientId: string, metadata: AdapterPayload): Promise<void>;
    deleteClient(clientId: string): Promise<void>;
    findInitialAccessToken(token: string): Promise<AdapterPayload | undefined>;
  };
  /** Adds to the provider (when registration is on) the check of a secret sent back and the answers' fix-up. */
  attach(provider: Provider): void;
}

/** A JSON object, or nothing (oidc-provider answers anything else). */
function parsedObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The client service's refusals as RFC 7591 section 3.2.2 and RFC 7592 section 2 errors. */
async function inRfcErrors<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // `redirect_uris: …` becomes invalid_redirect_uri, anything else invalid_client_metadata.
    if (error instanceof InputError) throw new errors.InvalidClientMetadata(error.message);
    if (error instanceof NotFoundError) throw new errors.InvalidRequest('this client cannot be managed through registration', 403);
    throw error;
  }
}

export function createRegistration({ config, clients, openIdScopes }: RegistrationOptions): Registration {
  if (!config.clientRegistration) {
    return { features: { registration: { enabled: false }, registrationManagement: { enabled: false } }, attach() {} };
  }
  const always = new Set(openIdScopes);
  // The request each registration or update was checked as, for the write that follows it.
  const checked = new WeakMap<object, ClientCreateInput>();

  /**
   * Runs on every registration and every update (oidc-provider passes the token's policies on to
   * the registration access token), after oidc-provider has added the id and any secret.
   */
  async function policy(ctx: KoaContextWithOIDC, properties: Record<string, unknown>): Promise<void> {
    const clientId = String(properties.client_id);
    const { input, metadata } = await inRfcErrors(() => registrationRequest(properties, clientId));
    checked.set(ctx, input);
    // What oidc-provider builds its Client from, and answers: the client as the store will give
    // it (src/clients/clients.ts, findProviderMetadata), and nothing else the request held.
    const { scope, ...stored } = metadata;
    const withSecret = usesSecret(metadata.token_endpoint_auth_method) && typeof properties.client_secret === 'string';
    const kept = {
      client_id: clientId,
      client_id_issued_at: properties.client_id_issued_at,
      ...(withSecret ? { client_secret: properties.client_secret, client_secret_expires_at: 0 } : {}),
    };
    for (const key of Object.keys(properties)) delete properties[key];
    Object.assign(properties, kept, stored, { allowed_scope: scope });
  }

  /** The request being answered, and what the policy made of it. */
  function current(): { ctx: KoaContextWithOIDC; input?: ClientCreateInput } {
    const ctx = Provider.ctx;
    if (!ctx) throw new Error('oidc-provider wrote a client outside a request');
    return { ctx, input: checked.get(ctx) };
  }

  const registrationAnswers: Middleware = async function registrationAnswers(ctx, next) {
    await next();
    const { oidc } = ctx as unknown as { oidc?: { route?: string } };
    const body = ctx.body as Record<string, unknown> | undefined;
    if (!oidc?.route || !ANSWERING_ROUTES.has(oidc.route) || !body || typeof body !== 'object' || ctx.status >= 300) return;
    if (typeof body.allowed_scope === 'string' && body.allowed_scope) body.scope = body.allowed_scope;
    for (const field of PORTCULLIS_METADATA) delete body[field];
    // The secret is shown once, in the registration's answer; after that the client holds only a
    // keyed hash of it, which must not be sent (a read or an update would answer the hash).
    if (oidc.route !== 'registration') {
      delete body.client_secret;
      delete body.client_secret_expires_at;
    }
  };

  /**
   * RFC 7592 section 2.2: an update may carry the client's secret, which must then match. oidc-provider
   * compares it with the client's `client_secret`, which here is the secret's keyed hash, so a
   * client that sends its real secret back (as it was given it at registration) would be refused.
   * The secret is checked here instead: when it matches it leaves the body, and when it does not
   * oidc-provider is given one that matches nothing to refuse. oidc-provider reads the body itself,
   * so it is given the request's bytes (changed or not) to read again.
   */
  const echoedSecret: Middleware = async function echoedSecret(ctx, next) {
    const clientId = ctx.method === 'PUT' ? CLIENT_PATH.exec(ctx.path)?.[1] : undefined;
    const length = ctx.request.length;
    if (!clientId || !ctx.is('application/json') || length === undefined || length > BODY_LIMIT) return next();
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
    let bytes = Buffer.concat(chunks);
    const body = parsedObject(bytes);
    if (body && 'client_secret' in body) {
      const stored = await clients.findProviderMetadata(clientId);
      const matches =
        typeof body.client_secret === 'string' &&
        typeof stored?.client_secret === 'string' &&
        clients.verifySecret({ secretHash: stored.client_secret }, body.client_secret);
      // One that does not match is made one that cannot: sent as is, the stored hash itself would.
      if (matches) delete body.client_secret;
      else body.client_secret = '';
      bytes = Buffer.from(JSON.stringify(body));
    }
    ctx.req = Readable.from([bytes]) as unknown as typeof ctx.req;
    ctx.request.header['content-length'] = String(bytes.length);
    await next();
  };

  return {
    features: {
      registration: {
        enabled: true,
        initialAccessToken: true,
        issueRegistrationAccessToken: true,
        policies: { [POLICY]: policy as never },
        idFactory: () => clients.newRegisteredClientId(),
        // 256 bits, like every secret the client service makes.
        secretFactory: () => randomSecret(32),
      },
      // RFC 7592 section 3: a new registration access token with every update.
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
    },
    adapter: {
      async saveClient(clientId, metadata) {
        const { ctx, input } = current();
        if (!input) throw new Error('a client is written through oidc-provider only by registration');
        const ip = ctx.ip;
        if (ctx.oidc.route === 'registration') {
          const token = ctx.oidc.entities.InitialAccessToken?.jti;
          if (!token) throw new errors.InvalidToken('initial access token not found');
          const secret = typeof metadata.client_secret === 'string' ? metadata.client_secret : undefined;
          const registered = await inRfcErrors(() =>
            clients.register({ clientId, ...(secret ? { clientSecret: secret } : {}), input, token, ip }, always),
          );
          // The token expired, ran out or was deleted between its check and the write.
          if (!registered) throw new errors.InvalidToken('initial access token expired or used up');
        } else if (ctx.oidc.route === 'client_update') {
          await inRfcErrors(() => clients.updateRegistered(clientId, input, always, { type: 'client', id: clientId, ip }));
        } else {
          throw new Error(`oidc-provider wrote a client from route ${ctx.oidc.route}`);
        }
      },
      async deleteClient(clientId) {
        const { ctx } = current();
        if (ctx.oidc.route !== 'client_delete') throw new Error(`oidc-provider deleted a client from route ${ctx.oidc.route}`);
        await inRfcErrors(() => clients.deleteRegistered(clientId, { type: 'client', id: clientId, ip: ctx.ip }));
      },
      findInitialAccessToken: (token) => clients.registrationTokens.findForProvider(token, [POLICY]) as Promise<AdapterPayload | undefined>,
    },
    attach(provider) {
      provider.use(echoedSecret);
      provider.use(registrationAnswers);
    },
  };
}
