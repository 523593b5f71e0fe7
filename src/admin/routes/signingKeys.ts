// The admin API's routes for signing keys: their states, and a rotation on demand.
import { z } from 'zod';
import { keyRotateSchema } from '../../keys/index.ts';
import { keyRotation, signingKeySummary } from '../responses.ts';
import { defineRoute } from '../route.ts';

const tag = 'signing-keys';

export const signingKeyRoutes = [
  defineRoute({
    method: 'get',
    path: '/admin/signing-keys',
    summary: 'List signing keys and their states',
    tag,
    access: 'read',
    response: z.array(signingKeySummary),
    handler: (_, s) => s.keys.list(),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/signing-keys/rotate',
    summary: 'Rotate signing keys (next becomes current); force skips the wait for JWKS caches',
    tag,
    access: 'write',
    body: keyRotateSchema,
    response: keyRotation,
    example: { force: false },
    handler: ({ body, actor }, s) => s.keys.rotate(body, actor),
  }),
];
