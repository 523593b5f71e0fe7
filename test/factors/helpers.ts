// What the factor tests share: people to give factors to, TOTP codes computed from a secret the
// way an app does, and the wait that keeps a test away from the edge of a 30-second step.
import crypto from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { Actor } from '../../src/audit/index.ts';
import type { TestServices } from '../support/services.ts';

export const ADMIN: Actor = { type: 'admin', id: 'admin-client', ip: '203.0.113.9' };
export const PASSWORD = 'a long enough passphrase';

/** A new person; their id and address, and their own actor. */
export async function person(running: TestServices, name: string | null = null) {
  const email = `${crypto.randomUUID().slice(0, 8)}@example.com`;
  const { id } = await running.services.users.create({ email, password: PASSWORD, ...(name ? { name } : {}) }, ADMIN);
  return { id, email, name, actor: { type: 'user', id, ip: '198.51.100.7' } as Actor };
}

/** The code an app shows for `secret`, `offsetSteps` 30-second steps from now. */
export function codeFor(secret: string, offsetSteps = 0): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + offsetSteps * 30_000 });
}

/** Waits when fewer than five seconds of this step are left, so now, -1 and +1 mean the same to the test and the server. */
export async function awayFromStepEdge(): Promise<void> {
  const into = (Date.now() / 1000) % 30;
  if (into > 25) await new Promise((resolve) => setTimeout(resolve, (31 - into) * 1000));
}
