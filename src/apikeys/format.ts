// The API key format: `<prefix>_<random><checksum>`, as GitHub's tokens are built.
// - prefix: configurable (`pcl_live`, `pcl_test`), so a key says where it belongs and secret
//   scanners can find it;
// - random: 33 base62 characters, 196 bits from the CSPRNG (at least 192);
// - checksum: CRC32 of everything before it, as 6 base62 characters, so a mistyped or made-up
//   key is refused without a database lookup.
import crypto from 'node:crypto';
import zlib from 'node:zlib';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const RANDOM_LENGTH = 33;
export const CHECKSUM_LENGTH = 6;
/** How many characters of a key are kept in the clear to recognise it in lists. */
export const DISPLAY_LENGTH = 6;

function base62(value: bigint, length: number): string {
  let out = '';
  for (let i = 0; i < length; i += 1) {
    out = ALPHABET[Number(value % 62n)]! + out;
    value /= 62n;
  }
  return out;
}

function randomBase62(length: number): string {
  // 62^33 < 2^197: draw 25 bytes (200 bits) and reduce; the bias is under 2^-3, spread over 2^196 values.
  return base62(BigInt(`0x${crypto.randomBytes(25).toString('hex')}`), length);
}

function checksum(text: string): string {
  return base62(BigInt(zlib.crc32(text)), CHECKSUM_LENGTH);
}

export function generateApiKey(prefix: string): string {
  const body = `${prefix}_${randomBase62(RANDOM_LENGTH)}`;
  return body + checksum(body);
}

export interface ParsedApiKey {
  prefix: string;
  /** The first characters after the prefix, kept in the clear for lists. */
  display: string;
}

/**
 * Checks a string's shape and checksum, offline. Returns undefined for anything that is not a
 * well-formed key of one of `prefixes`.
 */
export function parseApiKey(candidate: unknown, prefixes: readonly string[]): ParsedApiKey | undefined {
  if (typeof candidate !== 'string' || candidate.length > 200) return undefined;
  const split = candidate.lastIndexOf('_');
  if (split < 1) return undefined;
  const prefix = candidate.slice(0, split);
  const rest = candidate.slice(split + 1);
  if (!prefixes.includes(prefix) || rest.length !== RANDOM_LENGTH + CHECKSUM_LENGTH || !/^[0-9A-Za-z]+$/.test(rest)) return undefined;
  const body = candidate.slice(0, candidate.length - CHECKSUM_LENGTH);
  if (checksum(body) !== candidate.slice(-CHECKSUM_LENGTH)) return undefined;
  return { prefix, display: `${prefix}_${rest.slice(0, DISPLAY_LENGTH)}` };
}

/** True when a string merely looks like one of our keys (prefix and underscore), checksum or not. */
export function looksLikeApiKey(candidate: string, prefixes: readonly string[]): boolean {
  return prefixes.some((prefix) => candidate.startsWith(`${prefix}_`));
}
