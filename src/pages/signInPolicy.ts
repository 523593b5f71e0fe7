// What a sign-in must still do once the person is known, decided in one place for every way in
// (a password, a passkey, an upstream identity provider): nothing more, a second factor, or
// nothing this server offers can satisfy the request (OpenID Connect's
// unmet_authentication_requirements, back to the app). The rule itself is src/oidc/authentication.ts.
import type { RouterContext } from '@koa/router';
import { portcullisClient, requestedAcr, secondFactorNeeded } from '../oidc/index.ts';
import type { InteractionState, PageDependencies } from './state.ts';

export type SecondFactorDecision = { kind: 'none' } | { kind: 'second_factor' } | { kind: 'unmet'; description: string };

export function createSignInPolicy({ provider, users, factors, mfa }: Pick<PageDependencies, 'provider' | 'users' | 'factors' | 'mfa'>) {
  return {
    /** Whether `accountId`, signing in to this interaction's client, needs a second factor. */
    async secondFactorFor(ctx: RouterContext<InteractionState>, accountId: string): Promise<SecondFactorDecision> {
      const { params } = ctx.state.interaction;
      const requested = requestedAcr(params);
      const client = await provider().Client.find(String(params.client_id));
      const needed =
        requested.unmet ||
        secondFactorNeeded({
          mode: mfa,
          requested: requested.level,
          clientRequiresMfa: client ? portcullisClient(client).requireMfa : false,
          person: {
            mfaRequired: (await users.findById(accountId))?.mfaRequired ?? false,
            hasSecondFactor: await factors.hasSecondFactor(accountId),
          },
        });
      if (!needed) return { kind: 'none' };
      if (requested.unmet) return { kind: 'unmet', description: 'none of the requested authentication context classes is supported' };
      if (mfa === 'off') return { kind: 'unmet', description: 'second factors are turned off on this server' };
      return { kind: 'second_factor' };
    },

    /** Ends the sign-in with OpenID Connect's unmet_authentication_requirements, back to the app. */
    async refuseUnmet(ctx: RouterContext<InteractionState>, description: string): Promise<void> {
      await provider().interactionFinished(
        ctx.req,
        ctx.res,
        { error: 'unmet_authentication_requirements', error_description: description },
        { mergeWithLastSubmission: false },
      );
      ctx.respond = false;
    },

    /** The connection this interaction's client may be signed in to through only (its login_connection), if any. */
    async onlyConnection(ctx: RouterContext<InteractionState>): Promise<string | undefined> {
      const client = await provider().Client.find(String(ctx.state.interaction.params.client_id));
      return client ? portcullisClient(client).loginConnection : undefined;
    },
  };
}

export type SignInPolicy = ReturnType<typeof createSignInPolicy>;
