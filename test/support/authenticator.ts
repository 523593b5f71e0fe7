// A software WebAuthn authenticator for tests, standing in for the browser and the authenticator
// together: it answers navigator.credentials.create() options with attestation 'none' and
// navigator.credentials.get() options with an assertion, as the JSON @simplewebauthn/browser
// posts (a RegistrationResponseJSON or AuthenticationResponseJSON, stringified).
//
// Keys are ES256 (P-256) from node:crypto; the attestation object and the COSE key are written
// with the small CBOR encoder below (maps, byte and text strings, integers: all WebAuthn needs).
// authData is rpIdHash | flags | counter | (on creation) aaguid, credential id, COSE key; an
// assertion's signature is ECDSA-SHA-256 (DER) over authData || SHA-256(clientDataJSON).
//
// Every call can be told to misbehave (another origin or rp id, a bad signature, a counter, no
// user verification, another challenge), so tests can check each refusal:
//
//   const authenticator = createAuthenticator({ rpId: 'localhost', origin: 'http://localhost:3000' });
//   const response = authenticator.attest(await factors.passkeys.registrationOptions(user, binding));
//   const assertion = authenticator.assert(await factors.passkeys.authenticationOptions(binding), { origin: 'https://evil.example' });
import crypto from 'node:crypto';

/** What a ceremony may be told to do wrong (or differently). */
export interface CeremonyOverrides {
  /** The origin in clientDataJSON (default: the authenticator's). */
  origin?: string;
  /** The rp id whose hash goes into authData (default: the authenticator's). */
  rpId?: string;
  /** The challenge in clientDataJSON (default: the options'). */
  challenge?: string;
  /** clientDataJSON's type (default webauthn.create / webauthn.get). */
  type?: string;
  /** Sign something else, so the signature does not verify (assertions). */
  badSignature?: boolean;
  /** The signature counter to report (default: one more than the last). */
  counter?: number;
  /** Set the UV flag (default true). */
  userVerified?: boolean;
  /** Set the BE and BS flags: a synced passkey (default: the authenticator's `synced`). */
  synced?: boolean;
}

export interface AssertOptions extends CeremonyOverrides {
  /** Which credential answers (its id, or as returned by `attest`'s `credentials`); default: the first allowed one held. */
  credential?: string | Credential;
}

/** A credential the authenticator holds. */
export interface Credential {
  /** The credential id, base64url. */
  id: string;
  /** The user handle it was made for (base64url, as in the creation options). */
  userHandle: string;
  rpId: string;
  privateKey: crypto.KeyObject;
  counter: number;
}

export interface AuthenticatorOptions {
  /** The rp id the browser uses (the page's host): its hash goes into authData. */
  rpId: string;
  /** The page's origin, as the browser writes it into clientDataJSON. */
  origin: string;
  /** Synced passkeys (BE and BS flags set; a `swk`); false for device-bound ones (`hwk`). Default true. */
  synced?: boolean;
}

export interface SoftwareAuthenticator {
  /** Answers creation options (an object or its JSON): a new credential; returns the response JSON string. */
  attest(options: unknown, overrides?: CeremonyOverrides): string;
  /** Answers request options (an object or its JSON) with a held credential; returns the response JSON string. */
  assert(options: unknown, overrides?: AssertOptions): string;
  /** The credentials made so far, oldest first. */
  readonly credentials: Credential[];
}

// ---- CBOR (RFC 8949), the few major types WebAuthn uses ----

type CborValue = number | string | Uint8Array | CborValue[] | Map<number | string, CborValue>;

function head(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length]);
  if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
  if (length < 0x10000) {
    const out = Buffer.alloc(3);
    out[0] = (major << 5) | 25;
    out.writeUInt16BE(length, 1);
    return out;
  }
  const out = Buffer.alloc(5);
  out[0] = (major << 5) | 26;
  out.writeUInt32BE(length, 1);
  return out;
}

export function cbor(value: CborValue): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  const parts: Buffer[] = [head(5, value.size)];
  for (const [key, item] of value) parts.push(cbor(key), cbor(item));
  return Buffer.concat(parts);
}

// ---- WebAuthn ----

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => crypto.createHash('sha256').update(data).digest();

/** The options as an object, whether given as one or as the JSON a page embeds. */
function optionsOf(options: unknown): Record<string, unknown> {
  const value = typeof options === 'string' ? (JSON.parse(options) as unknown) : options;
  if (typeof value !== 'object' || value === null) throw new Error('authenticator: options must be an object or its JSON');
  // @simplewebauthn/browser takes `{ optionsJSON }`; accept either shape.
  const record = value as Record<string, unknown>;
  return (typeof record.optionsJSON === 'object' && record.optionsJSON !== null ? record.optionsJSON : record) as Record<string, unknown>;
}

/** The COSE_Key (RFC 9052) of a P-256 public key, for ES256 (alg -7). */
function coseKey(publicKey: crypto.KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  return cbor(
    new Map<number, CborValue>([
      [1, 2], // kty: EC2
      [3, -7], // alg: ES256
      [-1, 1], // crv: P-256
      [-2, Buffer.from(jwk.x!, 'base64url')],
      [-3, Buffer.from(jwk.y!, 'base64url')],
    ]),
  );
}

function authData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
  const count = Buffer.alloc(4);
  count.writeUInt32BE(counter >>> 0, 0);
  return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
}

export function createAuthenticator({ rpId, origin, synced = true }: AuthenticatorOptions): SoftwareAuthenticator {
  const credentials: Credential[] = [];

  const flagsOf = (overrides: CeremonyOverrides, extra = 0) =>
    FLAG_UP | (overrides.userVerified === false ? 0 : FLAG_UV) | ((overrides.synced ?? synced) ? FLAG_BE | FLAG_BS : 0) | extra;

  const clientData = (type: string, challenge: string, overrides: CeremonyOverrides) =>
    Buffer.from(
      JSON.stringify({
        type: overrides.type ?? type,
        challenge: overrides.challenge ?? challenge,
        origin: overrides.origin ?? origin,
        crossOrigin: false,
      }),
    );

  return {
    credentials,

    attest(options, overrides = {}) {
      const creation = optionsOf(options);
      const challenge = String(creation.challenge);
      const user = creation.user as { id: string } | undefined;
      if (!user?.id) throw new Error('authenticator: creation options without user.id');
      const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const id = crypto.randomBytes(16);
      const credential: Credential = {
        id: b64url(id),
        userHandle: user.id,
        rpId: overrides.rpId ?? rpId,
        privateKey,
        counter: overrides.counter ?? 0,
      };
      const idLength = Buffer.alloc(2);
      idLength.writeUInt16BE(id.length, 0);
      const attested = Buffer.concat([Buffer.alloc(16), idLength, id, coseKey(publicKey)]);
      const data = authData(credential.rpId, flagsOf(overrides, FLAG_AT), credential.counter, attested);
      const attestationObject = cbor(
        new Map<string, CborValue>([
          ['fmt', 'none'],
          ['attStmt', new Map()],
          ['authData', data],
        ]),
      );
      credentials.push(credential);
      return JSON.stringify({
        id: credential.id,
        rawId: credential.id,
        type: 'public-key',
        authenticatorAttachment: 'platform',
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64url(clientData('webauthn.create', challenge, overrides)),
          attestationObject: b64url(attestationObject),
          transports: ['internal', 'hybrid'],
          publicKeyAlgorithm: -7,
          authenticatorData: b64url(data),
        },
      });
    },

    assert(options, overrides = {}) {
      const request = optionsOf(options);
      const challenge = String(request.challenge);
      const allowed = ((request.allowCredentials as { id: string }[] | undefined) ?? []).map((entry) => entry.id);
      const wanted = overrides.credential;
      const credential =
        typeof wanted === 'object'
          ? wanted
          : typeof wanted === 'string'
            ? credentials.find((held) => held.id === wanted)
            : (credentials.find((held) => allowed.includes(held.id)) ?? (allowed.length === 0 ? credentials[0] : undefined));
      if (!credential) throw new Error('authenticator: no credential to answer with');
      credential.counter = overrides.counter ?? credential.counter + 1;
      const data = authData(overrides.rpId ?? credential.rpId, flagsOf(overrides), credential.counter);
      const client = clientData('webauthn.get', challenge, overrides);
      const signed = Buffer.concat([data, sha256(client), ...(overrides.badSignature ? [Buffer.from([0])] : [])]);
      const signature = crypto.sign('sha256', signed, credential.privateKey);
      return JSON.stringify({
        id: credential.id,
        rawId: credential.id,
        type: 'public-key',
        authenticatorAttachment: 'platform',
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64url(client),
          authenticatorData: b64url(data),
          signature: b64url(signature),
          userHandle: credential.userHandle,
        },
      });
    },
  };
}

/** The same, by the name the brief gives it. */
export const create = createAuthenticator;
