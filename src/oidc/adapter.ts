// The oidc-provider adapter on Prisma: where every provider artifact is stored.
//
// Invariants (see ARCHITECTURE.md):
// - no usable bearer value at rest: rows are keyed by a keyed hash of the id; the payload is
//   sealed under a key derived from the id (an Interaction's payload, for one, holds its
//   session's cookie value); uids and user codes are stored hashed, with the id sealed under
//   them so findByUid/findByUserCode still work;
// - expiry is honoured on read, and `purgeExpiredArtifacts` deletes what has expired;
// - `consume` is atomic: of two concurrent consumers exactly one succeeds, the other gets
//   invalid_grant, so a code or refresh token is honoured once.
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { keyedHash, seal, unseal } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';

/**
 * Kinds stored readable, id included: a grant (who consented to what, for which client) holds
 * no bearer value, its id is no credential, and the account page and admin API list them.
 */
export const READABLE_KINDS = new Set(['Grant']);

/** The stored key of an artifact id. */
export function artifactIdHash(pepper: string, id: string): string {
  return keyedHash(pepper, id);
}

export interface ArtifactAdapterOptions {
  prisma: Prisma;
  pepper: string;
  /** Looks up a client's oidc-provider metadata; the `Client` model is served from the client store. */
  findClient: (clientId: string) => Promise<AdapterPayload | undefined>;
  /** Ids that cannot be artifacts (API keys): found as nothing without a query. */
  notAnArtifact?: (id: string) => boolean;
}

type Row = { payload: string; expiresAt: Date | null; consumedAt: Date | null };

const epoch = (date: Date) => Math.floor(date.getTime() / 1000);

class ArtifactAdapter implements Adapter {
  readonly #kind: string;
  readonly #prisma: Prisma;
  readonly #pepper: string;
  readonly #notAnArtifact: (id: string) => boolean;

  constructor(kind: string, { prisma, pepper, notAnArtifact }: ArtifactAdapterOptions) {
    this.#kind = kind;
    this.#prisma = prisma;
    this.#pepper = pepper;
    this.#notAnArtifact = notAnArtifact ?? (() => false);
  }

  #hash(value: string): string {
    return artifactIdHash(this.#pepper, value);
  }

  #key(id: string) {
    return { kind_idHash: { kind: this.#kind, idHash: this.#hash(id) } };
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
      ...(consumed ? { consumedAt: new Date(Number(consumed) * 1000) } : {}),
    };
    await this.#prisma.providerArtifact.upsert({
      where: this.#key(id),
      create: { kind: this.#kind, idHash: this.#hash(id), ...fields },
      update: fields,
    });
  }

  #open(id: string, row: Row | null): AdapterPayload | undefined {
    if (!row) return undefined;
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) return undefined;
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
    const row = await this.#prisma.providerArtifact.findUnique({ where: this.#key(id) });
    return this.#open(id, row);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const row = await this.#prisma.providerArtifact.findFirst({ where: { kind: this.#kind, uidHash: this.#hash(uid) } });
    const id = row?.idSealedByUid ? unseal(uid, this.#pepper, `${this.#kind}:uid`, row.idSealedByUid) : undefined;
    return id ? this.#open(id, row) : undefined;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const row = await this.#prisma.providerArtifact.findFirst({ where: { kind: this.#kind, userCodeHash: this.#hash(userCode) } });
    const id = row?.idSealedByUserCode ? unseal(userCode, this.#pepper, `${this.#kind}:userCode`, row.idSealedByUserCode) : undefined;
    return id ? this.#open(id, row) : undefined;
  }

  async consume(id: string): Promise<void> {
    // A conditional update is the whole of the atomicity: the database lets one writer flip
    // consumedAt from null, and every other finds no such row (P2025). One statement: Prisma's
    // updateMany would wrap it in a transaction, which on SQLite queues behind every other one.
    try {
      await this.#prisma.providerArtifact.update({
        where: { ...this.#key(id), consumedAt: null },
        data: { consumedAt: new Date() },
        select: { kind: true },
      });
    } catch (error) {
      if ((error as { code?: string }).code === 'P2025') throw new errors.InvalidGrant(`${this.#kind} was already used`);
      throw error;
    }
  }

  async destroy(id: string): Promise<void> {
    await this.#prisma.providerArtifact.deleteMany({ where: { kind: this.#kind, idHash: this.#hash(id) } });
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#prisma.providerArtifact.deleteMany({ where: { kind: this.#kind, grantId } });
  }
}

/** Serves oidc-provider's `Client` model from Portcullis's client store; clients are written only through the service layer. */
class ClientAdapter implements Adapter {
  readonly #findClient: ArtifactAdapterOptions['findClient'];

  constructor(findClient: ArtifactAdapterOptions['findClient']) {
    this.#findClient = findClient;
  }

  find(id: string) {
    return this.#findClient(id);
  }

  #readOnly(): never {
    throw new Error('clients are managed with the portcullis CLI or admin API, not through oidc-provider');
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

/** The `adapter` option for oidc-provider: a factory it calls once per model name. */
export function createAdapterFactory(options: ArtifactAdapterOptions): (name: string) => Adapter {
  return (name) => (name === 'Client' ? new ClientAdapter(options.findClient) : new ArtifactAdapter(name, options));
}

/** Deletes every artifact whose expiry has passed. Returns how many rows went. */
export async function purgeExpiredArtifacts(prisma: Prisma, now = new Date()): Promise<number> {
  const { count } = await prisma.providerArtifact.deleteMany({ where: { expiresAt: { lt: now } } });
  return count;
}
