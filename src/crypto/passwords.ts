// Human passwords: argon2id with OWASP's recommended parameters (19 MiB memory, 2 passes,
// 1 lane). Login rehashes a password whose stored hash used other parameters.
import argon2 from 'argon2';

export const passwordHashOptions = {
  type: argon2.argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, passwordHashOptions);
}

/** True when `password` matches `hash`. A malformed hash is a mismatch, never an exception. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

export function passwordNeedsRehash(hash: string): boolean {
  return argon2.needsRehash(hash, passwordHashOptions);
}
