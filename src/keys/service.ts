// The signing-key operations the CLI, the admin API and the server's schedule share.
import { actorFields, SYSTEM_ACTOR, type Actor, type AuditLog } from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import type { Prisma } from '../db/index.ts';
import { parseInput } from '../oauth/index.ts';
import { MAX_ACCESS_TOKEN_TTL } from '../resources/index.ts';
import {
  ensureSigningKeys,
  KeyRotationError,
  listSigningKeys,
  retireExpiredKeys,
  rotateSigningKeys,
  type KeyTiming,
  type RotationResult,
} from './signingKeys.ts';
import { keyRotateSchema, type KeyRotateInput } from './schema.ts';

/**
 * The longest a signed token stays valid, plus a minute of clock skew: how long a previous key
 * stays published. Access tokens for APIs live at most MAX_ACCESS_TOKEN_TTL.
 */
export function maxSignedLifetimeSeconds(config: Config): number {
  return Math.max(MAX_ACCESS_TOKEN_TTL, config.lifetimes.accessToken, config.lifetimes.idToken) + 60;
}

export function createKeyService({ prisma, config, audit }: { prisma: Prisma; config: Config; audit: AuditLog }) {
  // Instances see a change only at their next poll: a new key reaches every JWKS up to one poll
  // interval late, and a demoted key may sign for up to one poll interval more. Both windows
  // grow by it.
  const timing: KeyTiming = {
    jwksMaxAgeSeconds: config.jwksMaxAgeSeconds + config.keysPollIntervalSeconds,
    maxSignedLifetimeSeconds: maxSignedLifetimeSeconds(config) + config.keysPollIntervalSeconds,
  };
  const kek = config.keyEncryptionKey;
  const alg = config.signingKeyAlg;

  /** Makes the next key current (and a new next key); `force` skips the wait for JWKS caches. */
  async function rotate(input: KeyRotateInput, actor: Actor): Promise<RotationResult> {
    const { force } = parseInput(keyRotateSchema, input);
    const result = await rotateSigningKeys(prisma, kek, { alg, timing, force });
    await audit.record({
      type: 'signing_key.rotated',
      ...actorFields(actor),
      subject: result.current,
      outcome: 'success',
      details: { ...result, force },
    });
    return result;
  }

  return {
    timing,
    list: () => listSigningKeys(prisma),
    rotate,

    /** Creates the current and next keys if missing (first start). */
    async ensure(): Promise<string[]> {
      const created = await ensureSigningKeys(prisma, kek, alg);
      for (const kid of created) {
        await audit.record({ type: 'signing_key.created', ...actorFields(SYSTEM_ACTOR), subject: kid, outcome: 'success' });
      }
      return created;
    },

    /** Rotates when the current key has signed for `intervalSeconds`; quietly waits while the next key is too new. */
    async rotateIfDue(intervalSeconds: number, now = new Date()): Promise<RotationResult | undefined> {
      const current = await prisma.signingKey.findFirst({ where: { state: 'current' }, orderBy: { activatedAt: 'desc' } });
      const since = current?.activatedAt ?? current?.createdAt;
      if (!since || now.getTime() - since.getTime() < intervalSeconds * 1000) return undefined;
      try {
        return await rotate({}, SYSTEM_ACTOR);
      } catch (error) {
        if (error instanceof KeyRotationError) return undefined;
        throw error;
      }
    },

    /** Retires previous keys once every token they signed has expired (the schedule). */
    async retireExpired(): Promise<string[]> {
      const retired = await retireExpiredKeys(prisma, timing);
      for (const kid of retired) {
        await audit.record({ type: 'signing_key.retired', ...actorFields(SYSTEM_ACTOR), subject: kid, outcome: 'success' });
      }
      return retired;
    },
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
