// How strongly a person signed in, and how strongly they must: the two authentication context
// classes Portcullis speaks (acr, OpenID Connect Core section 2), the methods behind them
// (amr, RFC 8176), and the check in oidc-provider's login prompt that makes a person who is
// already signed in prove a second factor when the sign-in needs one (step-up).
//
// A sign-in needs a second factor when any of these asks for one: the request (acr_values, or
// the claims parameter's id_token.acr, naming the mfa class and not the password class), the
// client (registered with require_mfa), MFA=required, an administrator (the person's
// mfaRequired), or the person (MFA=optional and they have a second factor: who added one is
// asked for it). With MFA=off no request or person needs one; a client that does cannot be
// signed in to. A stronger sign-in satisfies a weaker request, as Keycloak's levels of
// assurance do: a session with a second factor answers a request for the password class.
import { errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { AuthenticationMethod } from '../factors/index.ts';
import { portcullisClient } from './clientMetadata.ts';

/** The authentication context classes, weakest first (advertised in acr_values_supported). */
export const ACR = {
  password: 'urn:portcullis:acr:pwd',
  mfa: 'urn:portcullis:acr:mfa',
} as const;
export type AcrLevel = keyof typeof ACR;

/** The class a sign-in with these methods reached: two factors (RFC 8176 `mfa`) or one. */
export const acrOf = (amr: readonly string[]): string => (amr.includes('mfa') ? ACR.mfa : ACR.password);

/** The methods of a sign-in with a password and then `second` (`otp`, `hwk`, `swk`). */
export function withSecondFactor(first: readonly AuthenticationMethod[], second: readonly AuthenticationMethod[]): AuthenticationMethod[] {
  const methods = new Set<AuthenticationMethod>([...first, ...second]);
  methods.delete('mfa');
  return [...methods, 'mfa'];
}

/** The class a request asks for: the weakest it names that Portcullis knows, or none. */
export function requestedLevel(values: readonly string[]): AcrLevel | undefined {
  if (values.includes(ACR.password)) return 'password';
  if (values.includes(ACR.mfa)) return 'mfa';
  return undefined;
}

/**
 * What a request asks of the sign-in: acr_values (voluntary) and the claims parameter's
 * id_token.acr (voluntary or essential). `essential` is set when an essential request names no
 * class Portcullis knows: nothing could satisfy it.
 */
export function requestedAcr(params: { acr_values?: unknown; claims?: unknown }): { level?: AcrLevel; unmet?: boolean } {
  const fromValues = typeof params.acr_values === 'string' ? params.acr_values.split(' ').filter(Boolean) : [];
  let claims: { id_token?: { acr?: { essential?: boolean; value?: unknown; values?: unknown } } } | undefined;
  if (typeof params.claims === 'string') {
    try {
      claims = JSON.parse(params.claims);
    } catch {
      claims = undefined;
    }
  } else if (params.claims && typeof params.claims === 'object') claims = params.claims as typeof claims;
  const acr = claims?.id_token?.acr;
  const fromClaims = [
    ...(typeof acr?.value === 'string' ? [acr.value] : []),
    ...(Array.isArray(acr?.values) ? acr.values.filter((item): item is string => typeof item === 'string') : []),
  ];
  const essentialLevel = fromClaims.length ? requestedLevel(fromClaims) : undefined;
  if (acr?.essential === true && fromClaims.length && !essentialLevel) return { unmet: true };
  const levels = [requestedLevel(fromValues), essentialLevel].filter(Boolean) as AcrLevel[];
  return { level: levels.includes('mfa') ? 'mfa' : levels[0] };
}

/** What the policy knows of a person: set by an administrator, and whether they have a factor. */
export interface PersonPolicy {
  mfaRequired: boolean;
  hasSecondFactor: boolean;
}

export interface SecondFactorPolicy {
  mode: 'off' | 'optional' | 'required';
  requested?: AcrLevel;
  clientRequiresMfa: boolean;
  person: PersonPolicy;
}

/** Whether this sign-in needs a second factor (see the head of this module). */
export function secondFactorNeeded({ mode, requested, clientRequiresMfa, person }: SecondFactorPolicy): boolean {
  // MFA=off: nobody has a second factor to give, so only a client that cannot do without one
  // needs it (and its sign-ins end in unmet_authentication_requirements).
  if (mode === 'off') return clientRequiresMfa;
  if (requested === 'mfa' || clientRequiresMfa || person.mfaRequired) return true;
  if (mode === 'required') return true;
  return mode === 'optional' && person.hasSecondFactor;
}

/** The reason oidc-provider's login prompt gives when only a second factor is missing. */
export const STEP_UP_REASON = 'second_factor_required';

/** The OpenID Connect error for a sign-in that cannot be as strong as asked (MFA=off, or an unknown essential class). */
export const unmetRequirements = (description: string) =>
  new errors.CustomOIDCProviderError('unmet_authentication_requirements', description);

/**
 * oidc-provider's interaction policy with the acr checks made Portcullis's: its own two
 * (essential_acr, essential_acrs) compare classes for equality, so a session with a second
 * factor would be asked to sign in again for a request of the password class, and again after
 * that. In their place, one check asks for a login when this sign-in needs a second factor
 * that the session's methods do not include.
 */
export function interactionPolicyWithStepUp(mode: SecondFactorPolicy['mode'], personPolicy: (accountId: string) => Promise<PersonPolicy>) {
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  login.checks.remove('essential_acr');
  login.checks.remove('essential_acrs');
  login.checks.add(
    new interactionPolicy.Check(STEP_UP_REASON, 'a second factor is required', async (ctx: KoaContextWithOIDC) => {
      const { oidc } = ctx;
      const requested = requestedAcr(oidc.params as Record<string, unknown>);
      if (requested.unmet) throw unmetRequirements('none of the requested authentication context classes is supported');
      const accountId = oidc.session?.accountId;
      if (!accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const needed = secondFactorNeeded({
        mode,
        requested: requested.level,
        clientRequiresMfa: portcullisClient(oidc.client!).requireMfa,
        person: await personPolicy(accountId),
      });
      if (!needed) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      if (oidc.session.amr?.includes('mfa')) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      if (mode === 'off') throw unmetRequirements('second factors are turned off on this server');
      return interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}
