// What a signed-in person does with their own account (the account page): sessions, profile,
// email change, data export and deletion, assembled once from the services they build on.
import type { ApiKeyService } from '../apikeys/index.ts';
import type { AuditAggregator, AuditLog } from '../audit/index.ts';
import type { Prisma } from '../db/index.ts';
import type { GrantService } from '../grants/index.ts';
import type { Outbox } from '../mail/index.ts';
import type { Views } from '../templates/index.ts';
import { createDataExport } from './dataExport.ts';
import { createDeletion } from './deletion.ts';
import { createEmailChange } from './emailChange.ts';
import { createProfileService } from './profile.ts';
import { createSessionService } from './sessions.ts';
import type { AccountTokens } from './tokens.ts';

export interface OwnAccountOptions {
  prisma: Prisma;
  pepper: string;
  issuer: string;
  audit: AuditLog;
  auditAggregates: AuditAggregator;
  views: Views;
  outbox: Outbox;
  accountTokens: AccountTokens;
  grants: GrantService;
  apiKeys: ApiKeyService;
  onAccessChanged?: (id: string) => void;
}

export function createOwnAccount(options: OwnAccountOptions) {
  const { prisma, pepper, audit } = options;
  const sessions = createSessionService({ prisma, pepper, audit });
  return {
    sessions,
    profile: createProfileService({ ...options, sessions }),
    emailChange: createEmailChange(options),
    dataExport: createDataExport({ ...options, sessions }),
    deletion: createDeletion({ ...options, sessions }),
  };
}

export type OwnAccount = ReturnType<typeof createOwnAccount>;
