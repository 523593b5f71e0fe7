// The oidc-provider adapter: where every provider artifact is stored, in the database Prisma
// manages (one table, ProviderArtifact), through the client's own driver adapter.
//
// Invariants (see ARCHITECTURE.md):
// - no usable bearer value at rest: rows are keyed by a keyed hash of the id; the payload is
//   sealed under a key derived from the id (an Interaction's payload, for one, holds its
//   session's cookie value); uids and user codes are stored hashed, with the id sealed under
//   them so findByUid/findByUserCode still work;
// - expiry is honoured on read, and `purgeExpiredArtifacts` deletes what has expired;
// - `consume` is atomic: of two concurrent consumers exactly one succeeds, the other gets
//   invalid_grant, so a code or refresh token is honoured once.
//
// Every statement here is raw, parameterised SQL written once for both databases, run on the
// Prisma client's own driver adapter (src/db/statements.ts): Prisma's client costs 100 to 400 µs
// of CPU per request on this path, and these statements run several times in every
// introspection, refresh and login (bench/RESULTS.md).
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { keyedHash, seal, unseal } from '../crypto/index.ts';
import { dateOf, type Prisma, type Statements } from '../db/index.ts';

/**
 * Kinds stored readable, id included: a grant (who consented to what, for which client) holds
 * no bearer value, its id is no credential, and the account page and admin API list them.
 */
export const READABLE_KINDS = new Set(['Grant']);

/**
 * Kinds returned past their expiry (until the purge deletes them), because oidc-provider tells an
 * expired one from an unknown one: it finds a device code with `ignoreExpiration` and answers
 * `expired_token` (RFC 8628 section 3.5) or "the code has expired" on the verification page. It
 * checks the expiry itself, from the payload, before it honours any of them.
 */
const EXPIRY_REPORTED_KINDS = new Set(['DeviceCode']);

/** The stored key of an artifact id. */
export function artifactIdHash(pepper: string, id: string): string {
  return keyedHash(pepper, id);
}

export interface ArtifactAdapterOptions {
  /** Where the artifacts live: the client's raw statements (see src/db/statements.ts). */
  statements: Statements;
  pepper: string;
  /** Looks up a client's oidc-provider metadata; the `Client` model is served from the client store. */
  findClient: (clientId: string) => Promise<AdapterPayload | undefined>;
  /** Ids that cannot be artifacts (API keys): found as nothing without a query. */
  notAnArtifact?: (id: string) => boolean;
  /**
   * Dynamic client registration (src/oidc/registration.ts), when it is on: where oidc-provider's
   * writes of a client go (the client service, for registered clients only), and its
   * `InitialAccessToken` model, served from the tokens an administrator made.
   */
  registration?: {
    saveClient(clientId: string, metadata: AdapterPayload): Promise<void>;
    deleteClient(clientId: string): Promise<void>;
    findInitialAccessToken(token: string): Promise<AdapterPayload | undefined>;
  };
}

type Row = {
  kind: string;
  payload: string;
  expiresAt: Date | null;
  consumedAt: Date | null;
  idSealedByUid: string | null;
  idSealedByUserCode: string | null;
};

/** The start of every read: the columns a Row holds, up to WHERE. */
const SELECT_ROWS =
  'SELECT "kind", "payload", "expiresAt", "consumedAt", "idSealedByUid", "idSealedByUserCode" FROM "ProviderArtifact" WHERE';

/**
 * The reads by a secondary value, one template each: statements keep a template's SQL text (and
 * on SQLite its prepared statement) by the identity of its parts.
 */
const FIND_BY = {
  uidHash: [`${SELECT_ROWS} "kind" = `, ' AND "uidHash" = ', ' LIMIT 1'],
  userCodeHash: [`${SELECT_ROWS} "kind" = `, ' AND "userCodeHash" = ', ' LIMIT 1'],
} as const;

/** A row as the driver returns it: dates as text. */
type StoredRow = Omit<Row, 'expiresAt' | 'consumedAt'> & { expiresAt: unknown; consumedAt: unknown };
const rowOf = (stored: StoredRow): Row => ({ ...stored, expiresAt: dateOf(stored.expiresAt), consumedAt: dateOf(stored.consumedAt) });

const epoch = (date: Date) => Math.floor(date.getTime() / 1000);

class ArtifactAdapter implements Adapter {
  readonly #kind: string;
  readonly #sql: Statements;
  readonly #pepper: string;
  readonly #notAnArtifact: (id: string) => boolean;
  readonly #rows: RowLoader;

  constructor(kind: string, { statements, pepper, notAnArtifact }: ArtifactAdapterOptions, rows: RowLoader) {
    this.#kind = kind;
    this.#sql = statements;
    this.#pepper = pepper;
    this.#notAnArtifact = notAnArtifact ?? (() => false);
    this.#rows = rows;
  }

  #hash(value: string): string {
    return artifactIdHash(this.#pepper, value);
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const { jti: _jti, consumed, ...body } = payload;
    const json = JSON.stringify(READABLE_KINDS.has(this.#kind) ? { ...body, jti: id } : body);
    const uid = typeof payload.uid === 'string' ? payload.uid : undefined;
    const userCode = typeof payload.userCode === 'string' ? payload.userCode : undefined;
    const fields = {
      payload: READABLE_KINDS.has(this.#kind) ? json : seal(id, this.#pepper, this.#kind, json),
      grantId: payload.grantId ?? null,
      accountId: payload.accountId ?? null,
      clientId: payload.clientId ?? null,
      uidHash: uid ? this.#hash(uid) : null,
      idSealedByUid: uid ? seal(uid, this.#pepper, `${this.#kind}:uid`, id) : null,
      userCodeHash: userCode ? this.#hash(userCode) : null,
      idSealedByUserCode: userCode ? seal(userCode, this.#pepper, `${this.#kind}:userCode`, id) : null,
      expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      // A save without `consumed` keeps a consumption already recorded (Prisma's update did the same).
      consumedAt: consumed ? new Date(Number(consumed) * 1000) : null,
    };
    const idHash = this.#hash(id);
    // One INSERT ... ON CONFLICT (see the note on raw statements at the top). createdAt is given,
    // not left to the column default, so SQLite stores it in the text form of every other date.
    await this.#sql.execute`
      INSERT INTO "ProviderArtifact" ("kind", "idHash", "payload", "grantId", "accountId", "clientId", "uidHash", "idSealedByUid",
        "userCodeHash", "idSealedByUserCode", "expiresAt", "consumedAt", "createdAt")
      VALUES (${this.#kind}, ${idHash}, ${fields.payload}, ${fields.grantId}, ${fields.accountId}, ${fields.clientId}, ${fields.uidHash},
        ${fields.idSealedByUid}, ${fields.userCodeHash}, ${fields.idSealedByUserCode}, ${fields.expiresAt}, ${fields.consumedAt}, ${new Date()})
      ON CONFLICT ("kind", "idHash") DO UPDATE SET "payload" = excluded."payload", "grantId" = excluded."grantId",
        "accountId" = excluded."accountId", "clientId" = excluded."clientId", "uidHash" = excluded."uidHash",
        "idSealedByUid" = excluded."idSealedByUid", "userCodeHash" = excluded."userCodeHash",
        "idSealedByUserCode" = excluded."idSealedByUserCode", "expiresAt" = excluded."expiresAt",
        "consumedAt" = COALESCE(excluded."consumedAt", "ProviderArtifact"."consumedAt")`;
  }

  #open(id: string, row: Row | null): AdapterPayload | undefined {
    if (!row) return undefined;
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now() && !EXPIRY_REPORTED_KINDS.has(this.#kind)) return undefined;
    const json = READABLE_KINDS.has(this.#kind) ? row.payload : unseal(id, this.#pepper, this.#kind, row.payload);
    if (json === undefined) return undefined;
    return {
      ...(JSON.parse(json) as AdapterPayload),
      jti: id,
      ...(row.consumedAt ? { consumed: epoch(row.consumedAt) } : {}),
    };
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (this.#notAnArtifact(id)) return undefined;
    return this.#open(id, await this.#rows.load(this.#kind, this.#hash(id)));
  }

  /** An artifact found by a secondary value (uid or user code), stored as its hash with the id sealed under it. */
  async #findBy(column: 'uidHash' | 'userCodeHash', sealed: 'idSealedByUid' | 'idSealedByUserCode', value: string, purpose: string) {
    const rows = await this.#sql.query<StoredRow>(FIND_BY[column], this.#kind, this.#hash(value));
    const row = rows[0] ? rowOf(rows[0]) : null;
    const id = row?.[sealed] ? unseal(value, this.#pepper, `${this.#kind}:${purpose}`, row[sealed]) : undefined;
    return id ? this.#open(id, row) : undefined;
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findBy('uidHash', 'idSealedByUid', uid, 'uid');
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findBy('userCodeHash', 'idSealedByUserCode', userCode, 'userCode');
  }

  async consume(id: string): Promise<void> {
    // A conditional update is the whole of the atomicity: the database lets one writer flip
    // consumedAt from null, and every other sees a count of zero.
    const count = await this.#sql.execute`
      UPDATE "ProviderArtifact" SET "consumedAt" = ${new Date()}
      WHERE "kind" = ${this.#kind} AND "idHash" = ${this.#hash(id)} AND "consumedAt" IS NULL`;
    if (count !== 1) {
      // oidc-provider's errors are loaded on this path only (the provider has them loaded by
      // now): the room is also used by commands that never start a provider (grants).
      const { errors } = await import('oidc-provider');
      throw new errors.InvalidGrant(`${this.#kind} was already used`);
    }
  }

  async destroy(id: string): Promise<void> {
    await this.#sql.execute`DELETE FROM "ProviderArtifact" WHERE "kind" = ${this.#kind} AND "idHash" = ${this.#hash(id)}`;
  }

  /**
   * Saves the artifact unless a live one with this id exists, in one statement; true when it
   * was saved. oidc-provider's ReplayDetection.unique finds and then saves, so two requests at
   * once could both pass; this is its atomic form (src/oidc/provider.ts). An expired row (not
   * yet purged) is replaced.
   */
  async insertIfAbsent(id: string, payload: AdapterPayload, expiresIn: number): Promise<boolean> {
    const now = new Date();
    const sealed = seal(id, this.#pepper, this.#kind, JSON.stringify(payload));
    const count = await this.#sql.execute`
      INSERT INTO "ProviderArtifact" ("kind", "idHash", "payload", "expiresAt", "createdAt")
      VALUES (${this.#kind}, ${this.#hash(id)}, ${sealed}, ${new Date(now.getTime() + Math.max(1, expiresIn) * 1000)}, ${now})
      ON CONFLICT ("kind", "idHash") DO UPDATE SET "payload" = excluded."payload", "expiresAt" = excluded."expiresAt",
        "createdAt" = excluded."createdAt"
      WHERE "ProviderArtifact"."expiresAt" IS NOT NULL AND "ProviderArtifact"."expiresAt" <= ${now}`;
    return count === 1;
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#sql.execute`DELETE FROM "ProviderArtifact" WHERE "kind" = ${this.#kind} AND "grantId" = ${grantId}`;
  }
}

/**
 * Serves oidc-provider's `Client` model from Portcullis's client store; clients are written only
 * through the service layer: oidc-provider's own writes (RFC 7591 registration and RFC 7592
 * updates and deletions) are handed to it when registration is on, and refused otherwise.
 */
class ClientAdapter implements Adapter {
  readonly #findClient: ArtifactAdapterOptions['findClient'];
  readonly #registration: ArtifactAdapterOptions['registration'];

  constructor(findClient: ArtifactAdapterOptions['findClient'], registration: ArtifactAdapterOptions['registration']) {
    this.#findClient = findClient;
    this.#registration = registration;
  }

  find(id: string) {
    return this.#findClient(id);
  }

  #readOnly(): never {
    throw new Error('clients are managed with the portcullis CLI or admin API, not through oidc-provider');
  }

  async upsert(id: string, metadata: AdapterPayload) {
    if (!this.#registration) this.#readOnly();
    await this.#registration.saveClient(id, metadata);
  }
  async consume() {
    this.#readOnly();
  }
  async destroy(id: string) {
    if (!this.#registration) this.#readOnly();
    await this.#registration.deleteClient(id);
  }
  async revokeByGrantId() {
    this.#readOnly();
  }
  async findByUid() {
    return undefined;
  }
  async findByUserCode() {
    return undefined;
  }
}

/**
 * Serves oidc-provider's `InitialAccessToken` model from the tokens an administrator made (the
 * client service keeps them, as keyed hashes, with their expiry and uses); oidc-provider only
 * reads them.
 */
class InitialAccessTokenAdapter implements Adapter {
  readonly #find: (token: string) => Promise<AdapterPayload | undefined>;

  constructor(find: (token: string) => Promise<AdapterPayload | undefined>) {
    this.#find = find;
  }

  find(token: string) {
    return this.#find(token);
  }

  #readOnly(): never {
    throw new Error('initial access tokens are made with the portcullis CLI or admin API, not through oidc-provider');
  }

  async upsert() {
    this.#readOnly();
  }
  async consume() {
    this.#readOnly();
  }
  async destroy() {
    this.#readOnly();
  }
  async revokeByGrantId() {
    this.#readOnly();
  }
  async findByUid() {
    return undefined;
  }
  async findByUserCode() {
    return undefined;
  }
}

/** Reads artifact rows by id hash, for every kind asked for in the same tick with one query. */
interface RowLoader {
  load(kind: string, idHash: string): Promise<Row | null>;
}

/**
 * Introspection of an opaque token looks the value up as an access token, a client-credentials
 * token and a refresh token at once (oidc-provider's findToken), three finds of one id. Finds
 * of one id hash made in the same tick become one SELECT over those kinds (the primary key,
 * kind then idHash, serves `kind IN (...)`), and each find gets its own kind's row.
 */
function createRowLoader(statements: Statements): RowLoader {
  const pending = new Map<string, { kinds: Set<string>; rows: Promise<Row[]> }>();
  // `"kind" IN (?, ?, ...)`: one parameter per kind, joined around the list; one template per length.
  const templates = new Map<number, readonly string[]>();
  const templateFor = (kinds: number) => {
    let parts = templates.get(kinds);
    if (!parts)
      templates.set(kinds, (parts = [`${SELECT_ROWS} "idHash" = `, ' AND "kind" IN (', ...Array<string>(kinds - 1).fill(', '), ')']));
    return parts;
  };
  return {
    async load(kind, idHash) {
      let batch = pending.get(idHash);
      if (!batch) {
        const kinds = new Set<string>();
        const rows = new Promise<Row[]>((resolve, reject) => {
          process.nextTick(() => {
            pending.delete(idHash);
            const list = [...kinds];
            statements
              .query<StoredRow>(templateFor(list.length), idHash, ...list)
              .then((found) => found.map(rowOf))
              .then(resolve, reject);
          });
        });
        batch = { kinds, rows };
        pending.set(idHash, batch);
      }
      batch.kinds.add(kind);
      return (await batch.rows).find((row) => row.kind === kind) ?? null;
    },
  };
}

/** The `adapter` option for oidc-provider: a factory it calls once per model name. */
export function createAdapterFactory(options: ArtifactAdapterOptions): (name: string) => Adapter {
  const rows = createRowLoader(options.statements);
  return (name) => {
    if (name === 'Client') return new ClientAdapter(options.findClient, options.registration);
    // Without registration no token is ever one: found as nothing without a query.
    if (name === 'InitialAccessToken')
      return new InitialAccessTokenAdapter(options.registration?.findInitialAccessToken ?? (async () => undefined));
    return new ArtifactAdapter(name, options, rows);
  };
}

/** Deletes every artifact whose expiry has passed. Returns how many rows went. */
export async function purgeExpiredArtifacts(prisma: Prisma, now = new Date()): Promise<number> {
  const { count } = await prisma.providerArtifact.deleteMany({ where: { expiresAt: { lt: now } } });
  return count;
}
