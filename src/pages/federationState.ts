// What a sign-in through an upstream identity provider keeps in its oidc-provider interaction
// (sealed at rest like every artifact, so any instance can go on with it, and gone with it): the
// flow between going upstream and coming back (state, nonce, PKCE verifier), and an upstream
// identity waiting for the person to prove they own the local account it would be linked to.
import type { RouterContext } from '@koa/router';
import type { InteractionResults } from 'oidc-provider';
import type { FederationFlow, PendingLink } from '../federation/index.ts';
import type { InteractionState, PageDependencies } from './state.ts';

export interface FederationState {
  flow?: FederationFlow;
  link?: PendingLink;
  /** An account made (or linked) on an address the upstream does not vouch for: the code mailed to it is asked for. */
  prove?: { userId: string; identityId: string; email: string; connectionId: string; connection: string };
  /** The app's `connection` parameter was followed once; after a failure the login page offers everything. */
  hintFollowed?: true;
}

const KEY = 'portcullisFederation';
type Interaction = InteractionState['interaction'];

export function federationStateOf(interaction: Interaction): FederationState {
  return ((interaction.result as Record<string, unknown> | undefined)?.[KEY] as FederationState | undefined) ?? {};
}

export async function keepFederationState(interaction: Interaction, state: FederationState): Promise<void> {
  interaction.result = { ...(interaction.result ?? {}), [KEY]: state } as InteractionResults;
  await interaction.persist();
}

/**
 * The person just proved they own `accountId` (their password or passkey, and a second factor if
 * one was asked): the upstream identity that waited for it is linked now, as the sign-in ends.
 */
export async function linkPendingIdentity(
  { federation }: Pick<PageDependencies, 'federation'>,
  ctx: RouterContext<InteractionState>,
  accountId: string,
): Promise<void> {
  const { link } = federationStateOf(ctx.state.interaction);
  if (!link) return;
  await federation.identities.link(accountId, link, { type: 'user', id: accountId, ip: ctx.ip });
}
