// The inputs of the signing-key service.
import { z } from 'zod';

export const keyRotateSchema = z.object({
  force: z.boolean().default(false).describe('rotate even if the next key is younger than the JWKS cache lifetime (a compromised key)'),
});
export type KeyRotateInput = z.input<typeof keyRotateSchema>;
