// What a person sees of their organizations (src/access): the account page's "Organizations"
// section (theirs, with their roles; leaving one, confirmed on a page of its own; making one
// when ORGANIZATION_CREATION=people), and the page of an invitation's mailed link.
//
// The invitation link (ISSUER/organization-invitation?token=…) is never used by its GET: mail
// scanners and link previews fetch links. Signed in, the GET shows the organization, the roles
// and an Accept button whose POST (CSRF, bound to the session) accepts it for the person, whose
// address must be the invited one. Signed out, it explains and offers to sign in: the token is
// kept for the way back in a sealed cookie (AES-256-GCM under the CSRF key, httpOnly, sent only
// to /account/organization-invitation, gone after an hour or on acceptance), and "Sign in" goes
// to that page, which signs in through the account page's own sign-in (accountSignIn.ts) and
// comes back to it. The token never travels in another URL, and the request log writes paths only.
import type { RouterMiddleware } from '@koa/router';
import type Koa from 'koa';
import type { InvitationCheck, MembershipSummary } from '../access/index.ts';
import { seal, unseal } from '../crypto/index.ts';
import { InputError } from '../errors/index.ts';
import { createAccountSteps, pageLanguage, type AccountContext } from './accountSteps.ts';
import { csrfToken } from './csrf.ts';
import { formText } from './form.ts';
import { errorPage, html } from './respond.ts';
import type { PageDependencies, SessionState } from './state.ts';

const ACCOUNT = '/account';
/** Where a signed-out visitor signs in to accept, and where the Accept button posts. */
export const INVITATION_PAGE = '/account/organization-invitation';
const COOKIE = 'portcullis.organization-invitation';
const CONTEXT = 'organization-invitation';
/** Long enough to sign in (or make an account and sign in), short enough not to linger. */
const KEEP_SECONDS = 60 * 60;

/** The leave page (confirmation GET and its POST) of one organization. */
export const leavePath = (organizationId: string) => `/account/organizations/${encodeURIComponent(organizationId)}/leave`;

/** The account page's section: the person's organizations, and whether they may make one. */
export interface OrganizationsSection {
  organizations: MembershipSummary[];
  canCreate: boolean;
}

type InvitationProblem = Exclude<InvitationCheck, { ok: true }>['reason'] | 'lost';

export function createOrganizationsPage(dependencies: PageDependencies) {
  const { views, users, organizations, csrfKey, issuer, signup, mailDeliverable, organizationOwnerRoles, provider } = dependencies;
  const steps = createAccountSteps(dependencies);
  const csrfOf = (ctx: AccountContext) => csrfToken(csrfKey, 'account', ctx.state.session.uid);
  const t = (ctx: Pick<Koa.Context, 'get'>) => views.catalogue.translator(pageLanguage(ctx));
  const cookieOptions = (maxAge: number) => ({
    path: INVITATION_PAGE,
    httpOnly: true,
    secure: issuer.startsWith('https:'),
    sameSite: 'lax' as const,
    signed: false,
    overwrite: true,
    maxAge,
  });

  const section = async (userId: string): Promise<OrganizationsSection> => ({
    organizations: await organizations.organizationsOf(userId),
    canCreate: organizations.creation === 'people',
  });

  /** One of the person's own organizations, named in the path (anyone else's is not found). */
  const ownOrganization = async (ctx: AccountContext) =>
    (await organizations.organizationsOf(ctx.state.session.accountId)).find((organization) => organization.id === ctx.params.id);

  const confirmLeave: RouterMiddleware<SessionState> = async function confirmLeaveOrganization(ctx) {
    const organization = await ownOrganization(ctx);
    if (!organization) return errorPage(ctx, views, 404, { message: t(ctx)('organizations.not_member'), code: 'not_found' });
    html(
      ctx,
      200,
      views.render('confirm', {
        lang: pageLanguage(ctx),
        title: 'organizations.leave_title',
        text: 'organizations.leave_text',
        values: { organization: organization.name },
        action: leavePath(organization.id),
        button: 'organizations.leave_button',
        back: ACCOUNT,
        csrf: csrfOf(ctx),
        flash: await steps.takeFlash(ctx),
      }),
    );
  };

  const leave: RouterMiddleware<SessionState> = async function leaveOrganization(ctx) {
    const organization = await ownOrganization(ctx);
    if (!organization) return steps.redirect(ctx, ACCOUNT, { error: { key: 'organizations.not_member' } });
    // The person themselves as the actor: the service records organization.member_left.
    await organizations.removeMember(organization.id, ctx.state.session.accountId, ctx.state.actor);
    steps.redirect(ctx, ACCOUNT, { notice: { key: 'organizations.left', values: { organization: organization.name } } });
  };

  const create: RouterMiddleware<SessionState> = async function createOrganization(ctx) {
    if (organizations.creation !== 'people')
      return errorPage(ctx, views, 403, { message: t(ctx)('organizations.create_closed'), code: 'forbidden' });
    const name = formText(ctx, 'name');
    try {
      const made = await organizations.create({ name }, ctx.state.actor, organizationOwnerRoles);
      steps.redirect(ctx, ACCOUNT, { notice: { key: 'organizations.created', values: { organization: made.name } } });
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      // `name` is the person's to fix; anything else (owner roles missing from the template) is the operator's.
      const refusal =
        error.field === 'name'
          ? { key: 'organizations.problems.name', field: 'organization-name' }
          : { key: 'organizations.problems.other' };
      steps.redirect(ctx, ACCOUNT, { error: refusal, values: { organization_name: name.slice(0, 300) } });
    }
  };

  // --- the invitation ------------------------------------------------------------------------
  /** An invitation that is not (or no longer) good, or a token this browser lost: its page, 4xx. */
  function problem(ctx: Koa.Context, reason: InvitationProblem): void {
    const status = reason === 'used' || reason === 'expired' ? 410 : 400;
    html(ctx, status, views.render('organization-invitation-problem', { lang: pageLanguage(ctx), reason }));
  }

  /** The template's description of each role, to say what joining gives. */
  async function rolesOf(names: string[]) {
    const template = new Map((await organizations.listRoles()).map((role) => [role.name, role.description]));
    return names.map((name) => ({ name, description: template.get(name) ?? null }));
  }

  /** The invitation as its invited (and signed-in) person sees it: Accept, or that they are signed in as someone else. */
  async function showToPerson(
    ctx: Koa.Context,
    invitation: Extract<InvitationCheck, { ok: true }>['invitation'],
    token: string,
    session: { uid: string; accountId: string },
  ): Promise<void> {
    const user = await users.findById(session.accountId);
    if (!user) return errorPage(ctx, views, 404, { message: t(ctx)('account.gone'), code: 'not_found' });
    const mine = invitation.email === user.email.toLowerCase();
    html(
      ctx,
      mine ? 200 : 403,
      views.render('organization-invitation', {
        lang: pageLanguage(ctx),
        state: mine ? 'signed_in' : 'wrong_address',
        organization: invitation.organizationName,
        roles: await rolesOf(invitation.roles),
        invited: invitation.email,
        email: user.email,
        token,
        csrf: csrfToken(csrfKey, 'account', session.uid),
      }),
    );
  }

  /** GET /organization-invitation?token=…: the mailed link. Shows; never accepts. */
  const show: RouterMiddleware = async function showOrganizationInvitation(ctx) {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const checked = await organizations.checkInvitation(token);
    if (!checked.ok) return problem(ctx, checked.reason);
    const session = await provider().Session.get(ctx);
    if (session.accountId) return showToPerson(ctx, checked.invitation, token, { uid: session.uid, accountId: session.accountId });
    // Signed out: kept for the way back through the sign-in, sealed, for the invitation page alone.
    const kept = JSON.stringify({ token, until: Date.now() + KEEP_SECONDS * 1000 });
    ctx.cookies.set(COOKIE, seal(csrfKey, CONTEXT, CONTEXT, kept), cookieOptions(KEEP_SECONDS * 1000));
    html(
      ctx,
      200,
      views.render('organization-invitation', {
        lang: pageLanguage(ctx),
        state: 'signed_out',
        organization: checked.invitation.organizationName,
        roles: await rolesOf(checked.invitation.roles),
        invited: checked.invitation.email,
        signupOpen: signup === 'open' && mailDeliverable,
      }),
    );
  };

  /** The token kept for this browser by the mailed link's page, or undefined. */
  function keptToken(ctx: Koa.Context): string | undefined {
    const sealed = ctx.cookies.get(COOKIE);
    const opened = sealed ? unseal(csrfKey, CONTEXT, CONTEXT, sealed) : undefined;
    if (!opened) return undefined;
    try {
      const kept = JSON.parse(opened) as { token?: unknown; until?: unknown };
      return typeof kept.token === 'string' && typeof kept.until === 'number' && kept.until > Date.now() ? kept.token : undefined;
    } catch {
      return undefined;
    }
  }

  /** GET /account/organization-invitation: back from the sign-in, the invitation kept for this browser. */
  const showKept: RouterMiddleware<SessionState> = async function showKeptInvitation(ctx) {
    const token = keptToken(ctx);
    if (!token) return problem(ctx, 'lost');
    const checked = await organizations.checkInvitation(token);
    if (!checked.ok) return problem(ctx, checked.reason);
    await showToPerson(ctx, checked.invitation, token, ctx.state.session);
  };

  /** POST /account/organization-invitation: Accept. */
  const accept: RouterMiddleware<SessionState> = async function acceptOrganizationInvitation(ctx) {
    const user = await users.findById(ctx.state.session.accountId);
    if (!user) return errorPage(ctx, views, 404, { message: t(ctx)('account.gone'), code: 'not_found' });
    const token = formText(ctx, 'token').slice(0, 200);
    let accepted: InvitationCheck;
    try {
      accepted = await organizations.acceptInvitation(token, { id: user.id, email: user.email }, ctx.state.actor);
    } catch (error) {
      // Another person's invitation (the address differs): the page says so, as the GET would have.
      if (!(error instanceof InputError && error.field === 'email')) throw error;
      const checked = await organizations.checkInvitation(token);
      if (!checked.ok) return problem(ctx, checked.reason);
      return showToPerson(ctx, checked.invitation, token, ctx.state.session);
    }
    if (!accepted.ok) return problem(ctx, accepted.reason);
    ctx.cookies.set(COOKIE, null, cookieOptions(0));
    steps.redirect(ctx, ACCOUNT, {
      notice: { key: 'organizations.joined', values: { organization: accepted.invitation.organizationName } },
    });
  };

  return { section, confirmLeave, leave, create, show, showKept, accept };
}

export type OrganizationsPage = ReturnType<typeof createOrganizationsPage>;
