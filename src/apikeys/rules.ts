// The rules a new API key's settings follow beyond their shapes (schema.ts): its audiences exist
// and accept its scopes; it has at most one owner, who exists; a person's key is their own,
// carries only what people were offered for the API, and always expires.
import type { Actor } from '../audit/index.ts';
import type { Prisma } from '../db/index.ts';
import { InputError } from '../errors/index.ts';
import { parseRateLimit } from '../limits/index.ts';
import { normalizeScope, parseInput, scopeWords } from '../oauth/index.ts';
import type { ApiResourceSummary, ResourceService } from '../resources/index.ts';
import { apiKeyCreateSchema, type ApiKeyCreateInput } from './schema.ts';

/** Lifetimes of keys owned by people, in days (USER_API_KEY_DEFAULT_DAYS, USER_API_KEY_MAX_DAYS). */
export interface PersonalKeyDays {
  default: number;
  max: number;
}

/** What a new key is made with, every rule checked. */
export interface KeySettings {
  name: string;
  scopes: string[];
  audiences: string[];
  rateLimit: string | null;
  expiresInSeconds: number | undefined;
  ownerUserId: string | null;
  ownerClientId: string | null;
  organizationId: string | null;
}

/**
 * The scopes of an API a person's or client's roles give, or undefined when the API does not
 * decide by roles (src/access: roles.permittedOn).
 */
export type PermittedScopes = (
  resource: { audience: string; rbac: boolean },
  holder: { type: 'user' | 'client'; id: string },
) => Promise<Set<string> | undefined>;

/** What the key rules ask of organizations (src/access): whether one exists, whether a person manages its keys. */
export interface KeyOrganizations {
  exists(organizationId: string): Promise<boolean>;
  managesKeys(userId: string, organizationId: string): Promise<boolean>;
}

const DAY_SECONDS = 86_400;
/** The lifetimes the developer page offers besides the configured default and maximum. */
const USUAL_LIFETIME_DAYS = [30, 90, 365];

/** The lifetimes a person may choose for a key of their own: none past the maximum; the default chosen. */
export function personalKeyLifetimes(days: PersonalKeyDays): { days: number; selected: boolean }[] {
  return [...new Set([...USUAL_LIFETIME_DAYS, days.default, days.max])]
    .filter((choice) => choice <= days.max)
    .sort((a, b) => a - b)
    .map((choice) => ({ days: choice, selected: choice === days.default }));
}

/**
 * The owner a key gets. A person acting for themselves makes keys only of their own: the owner is
 * them whatever is asked, and naming someone else is refused rather than quietly replaced.
 */
function ownerOf(
  input: { owner_user_id?: string | undefined; owner_client_id?: string | undefined; organization_id?: string | undefined },
  actor: Actor,
) {
  if (input.organization_id !== undefined) {
    // An organization's key is the organization's: no person or client owns it besides.
    if (input.owner_user_id !== undefined) throw new InputError('owner_user_id', "an organization's key has no other owner");
    if (input.owner_client_id !== undefined) throw new InputError('owner_client_id', "an organization's key has no other owner");
    return { ownerUserId: null, ownerClientId: null };
  }
  if (actor.type === 'user' && input.owner_user_id !== undefined && input.owner_user_id !== actor.id)
    throw new InputError('owner_user_id', 'a person may make keys only of their own');
  const ownerUserId = actor.type === 'user' ? actor.id : (input.owner_user_id ?? null);
  const ownerClientId = input.owner_client_id ?? null;
  if (ownerUserId && ownerClientId) throw new InputError('owner_client_id', 'a key has one owner: a user or a client');
  return { ownerUserId, ownerClientId };
}

/** The scopes the key's audiences accept (any, when it names none). */
function checkAudienceScopes(scopes: string[], resources: ApiResourceSummary[]): void {
  if (resources.length === 0) return;
  const accepted = new Set(resources.flatMap((resource) => scopeWords(resource.scope)));
  const outside = scopes.find((scope) => !accepted.has(scope));
  if (outside !== undefined) throw new InputError('scope', `${outside} is not accepted by any of the key's audiences`);
}

/**
 * A person's own key carries only what an administrator made available to people for the API
 * (its personal_key_scope): never what they consented to for some app, which any person can give
 * themselves by starting a login.
 */
function checkPersonalScopes(scopes: string[], resources: ApiResourceSummary[]): void {
  if (resources.length === 0) throw new InputError('audiences', 'choose the API the key is for');
  const offered = new Set<string>();
  for (const resource of resources) {
    const personal = scopeWords(resource.personal_key_scope);
    if (personal.length === 0) throw new InputError('audiences', `people may not make keys for ${resource.audience}`);
    for (const scope of personal) offered.add(scope);
  }
  const beyond = scopes.find((scope) => !offered.has(scope));
  if (beyond !== undefined) throw new InputError('scope', `${beyond} is not a scope people may put on keys of their own for this API`);
}

export function createKeyRules({
  prisma,
  resources,
  userKeyDays,
  organizations,
  permitted,
}: {
  prisma: Prisma;
  resources: ResourceService;
  userKeyDays: PersonalKeyDays;
  organizations?: KeyOrganizations;
  permitted?: PermittedScopes;
}) {
  /**
   * A person making a key of their own on an API that decides by roles may put on it only what
   * their roles give there (checked again at every use: a role taken away narrows the key).
   */
  async function checkRoleScopes(scopes: string[], named: ApiResourceSummary[], holder: { type: 'user'; id: string }) {
    if (!permitted) return;
    for (const resource of named) {
      const allowed = await permitted(resource, holder);
      if (!allowed) continue;
      const accepted = new Set(scopeWords(resource.scope));
      const beyond = scopes.find((scope) => accepted.has(scope) && !allowed.has(scope));
      if (beyond !== undefined) throw new InputError('scope', `${beyond} is not given by your roles for ${resource.audience}`);
    }
  }
  /** The organization a key is for exists, and a person making one manages its keys. */
  async function checkOrganization(organizationId: string | undefined, actor: Actor): Promise<string | null> {
    if (organizationId === undefined) return null;
    if (!organizations || !(await organizations.exists(organizationId)))
      throw new InputError('organization_id', `no organization has the id ${organizationId}`);
    if (actor.type === 'user' && !(await organizations.managesKeys(actor.id, organizationId)))
      throw new InputError('organization_id', 'your roles in this organization do not manage its keys');
    return organizationId;
  }

  async function resourcesOf(audiences: string[]): Promise<ApiResourceSummary[]> {
    const found: ApiResourceSummary[] = [];
    for (const audience of audiences) {
      const resource = await resources.findByAudience(audience);
      if (!resource) throw new InputError('audiences', `no API resource has audience ${audience}`);
      found.push(resource);
    }
    return found;
  }

  async function checkOwnerExists({ ownerUserId, ownerClientId }: { ownerUserId: string | null; ownerClientId: string | null }) {
    if (ownerUserId && !(await prisma.user.findUnique({ where: { id: ownerUserId }, select: { id: true } })))
      throw new InputError('owner_user_id', 'no such user');
    if (ownerClientId && !(await prisma.client.findUnique({ where: { id: ownerClientId }, select: { id: true } })))
      throw new InputError('owner_client_id', 'no such client');
  }

  /**
   * A person's key always expires (USER_API_KEY_DEFAULT_DAYS unless chosen, at most
   * USER_API_KEY_MAX_DAYS): a forgotten key of a person who left must not live for ever.
   */
  function lifetimeOf(requested: number | undefined, ownerUserId: string | null): number | undefined {
    if (!ownerUserId) return requested;
    const seconds = requested ?? userKeyDays.default * DAY_SECONDS;
    if (seconds > userKeyDays.max * DAY_SECONDS)
      throw new InputError('expires_in_seconds', `a key owned by a person lives at most ${userKeyDays.max} days`);
    return seconds;
  }

  return {
    /** Parses a new key's input and checks every rule, for `actor`. */
    async settle(input: ApiKeyCreateInput, actor: Actor): Promise<KeySettings> {
      const valid = parseInput(apiKeyCreateSchema, input);
      const owner = ownerOf(valid, actor);
      const scopes = scopeWords(normalizeScope(valid.scope));
      if (scopes.length === 0) throw new InputError('scope', 'at least one scope is required');
      const audiences = [...new Set(valid.audiences)];
      const named = await resourcesOf(audiences);
      checkAudienceScopes(scopes, named);
      const organizationId = await checkOrganization(valid.organization_id, actor);
      if (actor.type === 'user' && !organizationId) {
        checkPersonalScopes(scopes, named);
        await checkRoleScopes(scopes, named, { type: 'user', id: actor.id });
      }
      if (organizationId && named.length === 0) throw new InputError('audiences', 'choose the API the key is for');
      await checkOwnerExists(owner);
      return {
        name: valid.name,
        scopes,
        audiences,
        rateLimit: valid.rate_limit === undefined ? null : parseRateLimit(valid.rate_limit).canonical,
        expiresInSeconds: lifetimeOf(valid.expires_in_seconds, owner.ownerUserId),
        ...owner,
        organizationId,
      };
    },

    personalKeyLifetimes: () => personalKeyLifetimes(userKeyDays),
  };
}
