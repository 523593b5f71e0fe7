// What every page module is given and knows: the pages' dependencies and the typed state of
// the two kinds of route (a sign-in step, a signed-in account page).
import type Provider from 'oidc-provider';
import type { OrganizationService, RoleService } from '../access/index.ts';
import type { ApiKeyService } from '../apikeys/index.ts';
import type { Actor, AuditAggregator, AuditLog } from '../audit/index.ts';
import type { FactorService } from '../factors/index.ts';
import type { FederationService } from '../federation/index.ts';
import type { GrantService } from '../grants/index.ts';
import type { FlashReads } from '../artifacts/index.ts';
import type { AccountTokens, OwnAccount, SelfService } from '../accounts/index.ts';
import type { LoginLimits, RateLimiter } from '../limits/index.ts';
import type { Outbox } from '../mail/index.ts';
import type { ResourceService } from '../resources/index.ts';
import type { Views } from '../templates/index.ts';
import type { UserService } from '../users/index.ts';

export interface PageDependencies {
  provider: () => Provider;
  views: Views;
  users: UserService;
  resources: ResourceService;
  audit: AuditLog;
  /** Where events an attacker can cause in bulk are counted (blocked logins). */
  auditAggregates: AuditAggregator;
  grants: GrantService;
  apiKeys: ApiKeyService;
  limits: LoginLimits;
  csrfKey: string;
  /**
   * Creating or rotating a key needs a sign-in this recent, or the password again (as GitHub's
   * sudo mode asks): a session left open on a shared machine must not mint long-lived credentials.
   */
  recentSignInSeconds: number;
  /** Who may make an account (SIGNUP) and whether an unverified one may sign in (EMAIL_VERIFICATION). */
  signup: 'closed' | 'invite' | 'open';
  emailVerification: 'required' | 'optional';
  /** Mail reaches people (SMTP_URL, or the outbox folder outside production): the flows that send it are offered. */
  mailDeliverable: boolean;
  issuer: string;
  /** Mail waiting to be sent, and the one-time links and codes it carries. */
  outbox: Outbox;
  accountTokens: AccountTokens;
  /** Sign-up, verification, forgotten passwords, invitations (src/accounts/selfService.ts). */
  selfService: SelfService;
  /** What a signed-in person does with their own account (the account page: src/pages/account*.ts). */
  ownAccount: OwnAccount;
  /** Rates such as the mails per address and per source (shared through Redis when REDIS_URL is set). */
  rateLimiter: RateLimiter;
  /** Which post/redirect/get flashes were already shown (src/pages/flash.ts). */
  flashReads: FlashReads;
  /** A person's second factors and passkeys (src/factors). */
  factors: FactorService;
  /** MFA: whether second factors are offered, and whether everyone must have one. */
  mfa: 'off' | 'optional' | 'required';
  /** Sign-in through other identity providers, and the identities linked to accounts (src/federation). */
  federation: FederationService;
  /** The roles people hold (src/access): the consent page names the scopes an API's rbac keeps from them. */
  roles: RoleService;
  /** Organizations, their members and invitations (src/access): the consent page's pick, the account page, the invitation page. */
  organizations: OrganizationService;
  /** The roles a person who makes an organization holds in it (ORGANIZATION_OWNER_ROLES). */
  organizationOwnerRoles: readonly string[];
}

/** What a sign-in page knows: the interaction this browser's cookie belongs to. */
export interface InteractionState {
  interaction: Awaited<ReturnType<Provider['interactionDetails']>>;
}

type ProviderSession = Awaited<ReturnType<Provider['Session']['get']>>;
/** A browser session someone signed in to. */
export type SignedInSession = ProviderSession & { accountId: string };

/** What an account page knows: the signed-in session, and its person as the actor of any change. */
export interface SessionState {
  session: SignedInSession;
  actor: Extract<Actor, { type: 'user' }>;
}
