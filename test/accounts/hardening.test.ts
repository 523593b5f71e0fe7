// What the reviews of the account flows found, each shown over real HTTP with a real SMTP server:
// no unauthenticated request changes an existing account or its links (a later sign-up tells the
// owner, once per form, and nothing for a form submitted twice; no link carries a password); the
// answers that may send mail write one durable intent of the same size for any address and come
// before anything about the address is looked up, and an intent that failed is retried; names are one line of text and stay out of verification mail; typed
// codes are limited per address and per source with one answer; one length rule for passwords;
// an invitation takes over an account nobody confirmed; a sign-in's ui_locales carries over to
// the pages it links to and their mails; mail buttons wear BRAND_COLOR; a notice is deduplicated
// by the action it is about; a disabled account is not verified by a link.
import * as client from 'openid-client';
import { adminCaller } from '../support/admin.ts';
import { pkceAuthorization, signIn, UserAgent } from '../support/browser.ts';
import { cliJson } from '../support/cli.ts';
import { codeIn, linkIn } from '../support/mail.ts';
import { RETRY_WINDOW_SECONDS } from '../../src/accounts/tokens.ts';
import { createUserService } from '../../src/users/index.ts';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { hiddenField, Person, startWorld, STRONG_PASSWORD, textOf, type World } from './support.ts';

const REDIRECT = 'http://127.0.0.1:8127/callback';
const unique = (label: string) => `${label}.${Math.random().toString(36).slice(2, 8)}@example.com`;
const OTHER_PASSWORD = 'another long passphrase by the sea';

interface Setup {
  world: World;
  config: client.Configuration;
}

async function setUp(env: Record<string, string> = {}): Promise<Setup> {
  const world = await startWorld(env);
  const app = await cliJson<{ client_id: string; client_secret: string }>(
    ['client', 'create', '--name', 'Notes', '--grant', 'authorization_code', '--redirect-uri', REDIRECT],
    world.running.env,
  );
  const config = await client.discovery(new URL(world.running.url), app.client_id, app.client_secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  return { world, config };
}

async function signUp(person: Person, email: string, password = STRONG_PASSWORD, name = '') {
  return person.submit(await person.open('/signup'), '/signup', { email, password, name });
}

async function tryLogIn({ config }: Setup, email: string, password: string, extra: Record<string, string> = {}) {
  const { url } = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid email', ...extra });
  return signIn(new UserAgent(), url, { email, password, redirectUri: REDIRECT });
}

const loggedIn = (step: { location?: string | undefined }) => step.location?.startsWith(`${REDIRECT}?code=`) === true;

async function confirm(person: Person, link: string) {
  const page = await person.open(link);
  if (page.status !== 200) return { page };
  return person.submit(page, '/verify-email', { token: hiddenField(page.body, 'token') });
}

describe('EMAIL_VERIFICATION=required, SIGNUP=open', () => {
  let setup: Setup;
  let world: World;
  beforeAll(async () => {
    setup = await setUp();
    world = setup.world;
  });
  afterAll(() => world.stop());

  /** Makes every link sent to `email` so far older than RETRY_WINDOW_SECONDS (a later request is no retry of it). */
  async function age(email: string) {
    await world.running.db.prisma.accountToken.updateMany({
      where: { email },
      data: { createdAt: new Date(Date.now() - (RETRY_WINDOW_SECONDS + 60) * 1000) },
    });
  }

  test('a second sign-up for an unverified account changes nothing: the owner’s first link works, the other password never signs in', async () => {
    const email = unique('second');
    const owner = new Person(world.running.url);
    await signUp(owner, email, STRONG_PASSWORD);
    const first = linkIn(await world.mail.next(email), `${world.running.url}/verify-email?token=`);
    const tokensBefore = await world.running.db.prisma.accountToken.findMany({ where: { email }, orderBy: { id: 'asc' } });

    // Someone else signs the same address up at once, with their own password: nothing is sent
    // (a verification link went there a moment ago), and nothing changes.
    const other = new Person(world.running.url);
    expect((await signUp(other, email, OTHER_PASSWORD)).page.url).toMatch(/\/verify-email\/sent$/);
    await world.running.server.services.selfService.settled();
    expect(world.mail.to(email)).toHaveLength(1);
    // Later (past the retry window) once more: the owner gets the account-exists notice, with no link that verifies.
    await age(email);
    const aged = await world.running.db.prisma.accountToken.findMany({ where: { email }, orderBy: { id: 'asc' } });
    expect((await signUp(other, email, OTHER_PASSWORD)).page.url).toMatch(/\/verify-email\/sent$/);
    const notice = await world.mail.next(email, { after: 1 });
    expect(notice.subject).toBe('You already have a Portcullis account');
    expect(notice.text).toContain('use the link in the first mail');
    expect(notice.text).toContain(`${world.running.url}/forgot-password`);
    expect(notice.text).not.toMatch(/verify-email\?token=|reset-password\?token=/);
    await world.running.server.services.selfService.settled();
    expect(world.mail.to(email)).toHaveLength(2);
    // The account's tokens are as they were (only the test aged them).
    expect(await world.running.db.prisma.accountToken.findMany({ where: { email }, orderBy: { id: 'asc' } })).toEqual(aged);
    expect(aged.map(({ id, expiresAt, usedAt }) => ({ id, expiresAt, usedAt }))).toEqual(
      tokensBefore.map(({ id, expiresAt, usedAt }) => ({ id, expiresAt, usedAt })),
    );

    // The account kept the first password: it is right (403, confirm first); the other is wrong (401).
    expect((await tryLogIn(setup, email, STRONG_PASSWORD)).status).toBe(403);
    expect((await tryLogIn(setup, email, OTHER_PASSWORD)).status).toBe(401);
    // The owner's first link still works, and verifies the owner's password.
    expect((await confirm(owner, first)).page.url).toMatch(/\/verify-email\/done$/);
    expect(loggedIn(await tryLogIn(setup, email, STRONG_PASSWORD))).toBe(true);
    expect((await tryLogIn(setup, email, OTHER_PASSWORD)).status).toBe(401);
    const audit = await world.running.server.services.audit.query({ type: 'user.signup_existing', limit: 50 });
    const user = await world.running.db.prisma.user.findUniqueOrThrow({ where: { email } });
    expect(audit.events.filter((event) => event.subject === user.id)).toHaveLength(1);
    expect(JSON.stringify(audit.events)).not.toMatch(/argon2|passphrase/);
  });

  test('a sign-up form submitted twice sends exactly one mail, and its link works', async () => {
    const email = unique('double');
    const person = new Person(world.running.url);
    const form = await person.open('/signup');
    const fields = { csrf: hiddenField(form.body, 'csrf'), attempt: hiddenField(form.body, 'attempt'), email, password: STRONG_PASSWORD };
    const [one, two] = [await person.request('/signup', { form: fields }), await person.request('/signup', { form: fields })];
    expect([one.status, two.status]).toEqual([303, 303]);
    const mail = await world.mail.next(email);
    await world.running.server.services.selfService.settled();
    expect(world.mail.to(email)).toHaveLength(1);
    expect((await confirm(person, linkIn(mail, `${world.running.url}/verify-email?token=`))).page.url).toMatch(/\/verify-email\/done$/);
    expect(loggedIn(await tryLogIn(setup, email, STRONG_PASSWORD))).toBe(true);
  });

  test('whoever forgot their first sign-up’s password gets a new one through the notice’s reset link, which verifies the address', async () => {
    const email = unique('forgot-first');
    const person = new Person(world.running.url);
    await signUp(person, email, STRONG_PASSWORD);
    await world.mail.next(email);
    await age(email);
    await signUp(person, email, OTHER_PASSWORD);
    expect((await world.mail.next(email, { after: 1 })).subject).toBe('You already have a Portcullis account');
    const sent = await person.submit(await person.open('/forgot-password'), '/forgot-password', { email });
    expect(sent.post.status).toBe(303);
    const reset = linkIn(await world.mail.next(email, { after: 2 }), `${world.running.url}/reset-password?token=`);
    const page = await person.open(reset);
    const done = await person.submit(page, '/reset-password', { token: hiddenField(page.body, 'token'), password: OTHER_PASSWORD });
    expect(done.page.url).toMatch(/\/reset-password\/done$/);
    expect((await world.running.db.prisma.user.findUniqueOrThrow({ where: { email } })).emailVerified).toBe(true);
    expect(loggedIn(await tryLogIn(setup, email, OTHER_PASSWORD))).toBe(true);
    expect((await tryLogIn(setup, email, STRONG_PASSWORD)).status).toBe(401);
  });

  test('user create --unverified keeps the administrator’s password when someone signs the address up', async () => {
    const email = unique('made');
    await cliJson(['user', 'create', '--email', email, '--password-stdin', '--unverified'], world.running.env, STRONG_PASSWORD);
    await signUp(new Person(world.running.url), email, OTHER_PASSWORD);
    await world.mail.next(email);
    expect((await tryLogIn(setup, email, STRONG_PASSWORD)).status).toBe(403);
    expect((await tryLogIn(setup, email, OTHER_PASSWORD)).status).toBe(401);
  });

  /** Moves a table out of the way and back (what the server then reads or writes there fails, as when a database is down). */
  const rename = (from: string, to: string) => world.running.db.prisma.$executeRawUnsafe(`ALTER TABLE "${from}" RENAME TO "${to}"`);

  test('forgot-password, resend and sign-up write one intent of the same size for any address, and answer without looking it up', async () => {
    const known = unique('known');
    const waiting = unique('waiting');
    const taken = unique('taken');
    await cliJson(['user', 'create', '--email', known, '--password-stdin'], world.running.env, STRONG_PASSWORD);
    await cliJson(['user', 'create', '--email', waiting, '--password-stdin', '--unverified'], world.running.env, STRONG_PASSWORD);
    await cliJson(['user', 'create', '--email', taken, '--password-stdin'], world.running.env, STRONG_PASSWORD);
    const person = new Person(world.running.url);
    const pages = {
      forgot: await person.open('/forgot-password'),
      resend: await person.open('/verify-email/resend'),
      signup: await person.open('/signup'),
    };
    const unknown = unique('nobody');
    const { prisma } = world.running.db;
    await world.running.server.services.selfService.settled();
    const earlier = new Set((await prisma.outboxMessage.findMany({ select: { id: true } })).map((row) => row.id));
    const tokens = await prisma.accountToken.count();
    // The POST alone (its redirect is not followed).
    const ask = async (page: keyof typeof pages, action: string, fields: Record<string, string>) => {
      const post = await person.request(action, { form: { csrf: hiddenField(pages[page].body, 'csrf'), ...fields } });
      return { status: post.status, location: post.location };
    };
    // Without the accounts' table no address can be looked up: an answer that needed the
    // lookup could not be given, and each resolution fails (and waits for its retry).
    await rename('User', 'User_away');
    let answers: { status: number; location: string | undefined }[];
    let written: Awaited<ReturnType<typeof prisma.outboxMessage.findMany>>;
    try {
      answers = await Promise.all([
        ask('forgot', '/forgot-password', { email: known }),
        ask('forgot', '/forgot-password', { email: unknown }),
        ask('resend', '/verify-email/resend', { email: waiting }),
        ask('resend', '/verify-email/resend', { email: unknown }),
        ask('signup', '/signup', { email: taken, password: STRONG_PASSWORD, attempt: 'a'.repeat(20) }),
        ask('signup', '/signup', { email: unknown, password: STRONG_PASSWORD, attempt: 'b'.repeat(20) }),
      ]);
      await world.running.server.services.selfService.settled();
      written = (await prisma.outboxMessage.findMany()).filter((row) => !earlier.has(row.id));
    } finally {
      await rename('User_away', 'User');
    }
    expect(answers.map((answer) => answer.status)).toEqual([303, 303, 303, 303, 303, 303]);
    expect(answers[0]!.location).toBe(answers[1]!.location);
    expect(answers[2]!.location).toBe(answers[3]!.location);
    expect(answers[4]!.location).toBe(answers[5]!.location);
    // Each answer wrote one row, its intent, and nothing else; a known and an unknown address's are of one size.
    const intent = (purpose: string, to: string) => written.filter((row) => row.purpose === purpose && row.to === to);
    expect(written).toHaveLength(6);
    expect(await prisma.accountToken.count()).toBe(tokens);
    for (const [purpose, address] of [
      ['intent:forgot-password', known],
      ['intent:resend-verification', waiting],
      ['intent:sign-up', taken],
    ] as const) {
      const [mine, nobodys] = [intent(purpose, address), intent(purpose, unknown)];
      expect([mine.length, nobodys.length]).toEqual([1, 1]);
      expect(mine[0]!.sealed.length).toBe(nobodys[0]!.sealed.length);
      expect(mine[0]!.sealed).not.toContain(address);
    }
    expect(written.every((row) => row.attempts === 1 && row.sentAt === null && row.lastError !== null)).toBe(true);

    // The lookups are retried (due now rather than in 30 seconds): each address gets what it should.
    await prisma.outboxMessage.updateMany({ where: { id: { in: written.map((row) => row.id) } }, data: { nextAttemptAt: new Date() } });
    await world.running.server.services.selfService.settled();
    expect((await world.mail.next(known)).subject).toMatch(/Reset your/);
    expect((await world.mail.next(waiting)).subject).toMatch(/Confirm your email/);
    expect((await world.mail.next(taken)).subject).toMatch(/already have/);
    expect((await world.mail.next(unknown)).subject).toMatch(/Confirm your email/);
    await world.running.server.services.selfService.settled();
    expect(world.mail.to(unknown)).toHaveLength(1);
  });

  test('a resolution that failed half-way is retried by the server’s timer: the mail arrives once and its link works', async () => {
    const email = unique('retried');
    await cliJson(['user', 'create', '--email', email, '--password-stdin'], world.running.env, STRONG_PASSWORD);
    const { prisma } = world.running.db;
    const person = new Person(world.running.url);
    const page = await person.open('/forgot-password');
    await world.running.server.services.selfService.settled();
    // The account is found, then its link cannot be written (the tokens' table is away).
    await rename('AccountToken', 'AccountToken_away');
    let intent: Awaited<ReturnType<typeof prisma.outboxMessage.findFirstOrThrow>>;
    try {
      expect((await person.submit(page, '/forgot-password', { email })).post.status).toBe(303);
      await world.running.server.services.selfService.settled();
      intent = await prisma.outboxMessage.findFirstOrThrow({ where: { to: email, purpose: 'intent:forgot-password' } });
    } finally {
      await rename('AccountToken_away', 'AccountToken');
    }
    expect(intent).toMatchObject({ attempts: 1, sentAt: null, failedAt: null });
    expect(intent.lastError).not.toContain(email);
    expect(world.mail.to(email)).toHaveLength(0);
    // Due now instead of in 30 seconds; the server's own timer (every 5 seconds) takes it from here.
    await prisma.outboxMessage.update({ where: { id: intent.id }, data: { nextAttemptAt: new Date() } });
    const mail = await world.mail.next(email, { timeoutMs: 20_000 });
    expect(mail.subject).toMatch(/Reset your/);
    const reset = await person.open(linkIn(mail, `${world.running.url}/reset-password?token=`));
    expect(reset.status).toBe(200);
    const resolved = await prisma.outboxMessage.findUniqueOrThrow({ where: { id: intent.id } });
    expect(resolved).toMatchObject({ sealed: '', to: '', attempts: 2 });
    expect(resolved.sentAt).not.toBeNull();
    await world.running.server.services.selfService.settled();
    expect(world.mail.to(email)).toHaveLength(1);
  });

  test('a name with line breaks or a NUL is a form problem, never an account or a 500', async () => {
    const person = new Person(world.running.url);
    for (const name of ['there,\n\nYour account is suspended. Restore it at https://evil.example/restore', 'nul\u0000name', 'a\u2028b']) {
      const email = unique('name');
      const { post, page } = await signUp(person, email, STRONG_PASSWORD, name);
      expect(post.status).toBe(303);
      expect(post.location).toMatch(/\/signup$/);
      expect(page.body).toContain('The name must be one line of ordinary text');
      expect(page.body).toMatch(/id="name"[^>]*autofocus/);
      await world.running.server.services.selfService.settled();
      expect(await world.running.db.prisma.user.count({ where: { email } })).toBe(0);
    }
  });

  test('wrong codes: one answer with or without a sign-up, a daily cap per address, a limit per source', async () => {
    const pending = unique('pending');
    const none = unique('none');
    await signUp(new Person(world.running.url), pending);
    const code = codeIn(await world.mail.next(pending));
    const wrong = code === '000000' ? '111111' : '000000';
    const answer = async (person: Person, email: string, typed: string) => {
      const { page } = await person.submit(await person.open('/verify-email/sent'), '/verify-email/code', { email, code: typed });
      return textOf(page.body).replaceAll(email, 'EMAIL');
    };
    const a = new Person(world.running.url, '192.0.2.10');
    const b = new Person(world.running.url, '192.0.2.11');
    for (let i = 0; i < 10; i += 1) {
      const [withSignUp, without] = [await answer(a, pending, wrong), await answer(b, none, wrong)];
      expect(withSignUp).toBe(without);
      expect(withSignUp).toContain('That code does not work');
      expect(withSignUp).toContain('The link in the mail still works.');
    }
    // Ten wrong codes today: even the right one is refused now, and the address stays unverified.
    expect(await answer(a, pending, code)).toContain('That code does not work');
    expect((await world.running.db.prisma.user.findUniqueOrThrow({ where: { email: pending } })).emailVerified).toBe(false);
    // The address with no sign-up was counted too: signed up now, its right code is refused today.
    await signUp(new Person(world.running.url), none);
    expect(await answer(b, none, codeIn(await world.mail.next(none)))).toContain('That code does not work');

    const c = new Person(world.running.url, '192.0.2.12');
    let last = '';
    for (let i = 0; i < 31; i += 1) last = await answer(c, unique('guess'), wrong);
    expect(last).toMatch(/Too many codes were typed from here. Try again in \d+ minutes?/);
  });

  test('a typed code writes the same whether or not the address has a sign-up waiting (PostgreSQL: both wait on a write lock)', async () => {
    const { prisma, provider } = world.running.db;
    // SQLite writes one transaction at a time in this client, so a held lock would stop the reads too.
    if (provider !== 'postgres') return;
    const pending = unique('pending-lock');
    const none = unique('none-lock');
    await signUp(new Person(world.running.url), pending);
    const code = codeIn(await world.mail.next(pending));
    const wrong = code === '000000' ? '111111' : '000000';
    const a = new Person(world.running.url, '192.0.2.20');
    const b = new Person(world.running.url, '192.0.2.21');
    const [pageA, pageB] = [await a.open('/verify-email/sent'), await b.open('/verify-email/sent')];
    let tries: Promise<{ page: { body: string } }>[] = [];
    await prisma.$transaction(
      async (tx) => {
        // Reads go on; every write to the tokens' table waits until this transaction ends.
        await tx.$executeRawUnsafe('LOCK TABLE "AccountToken" IN EXCLUSIVE MODE');
        tries = [
          a.submit(pageA, '/verify-email/code', { email: pending, code: wrong }),
          b.submit(pageB, '/verify-email/code', { email: none, code: wrong }),
        ];
        // Read on another connection: within a transaction PostgreSQL keeps showing its first snapshot of this view.
        const waiting = async () => {
          const [row] = await prisma.$queryRawUnsafe<{ count: number }[]>(
            `SELECT count(*)::int AS count FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE 'UPDATE%AccountToken%'`,
          );
          return row!.count;
        };
        // Both tries come to the write (a try for an address with no sign-up, too), in bounded time.
        for (let i = 0; i < 100 && (await waiting()) < 2; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(await waiting()).toBe(2);
      },
      { timeout: 10_000, maxWait: 5000 },
    );
    const [withSignUp, without] = (await Promise.all(tries)) as [{ page: { body: string } }, { page: { body: string } }];
    expect(withSignUp.page.body).toContain('That code does not work');
    expect(textOf(withSignUp.page.body).replaceAll(pending, 'EMAIL')).toBe(textOf(without.page.body).replaceAll(none, 'EMAIL'));
  });

  test('one length rule: 600 emoji are a password on the pages, at login and on the admin API', async () => {
    const emoji = '😀'.repeat(600);
    const email = unique('emoji');
    const { page } = await signUp(new Person(world.running.url), email, emoji);
    expect(page.url).toMatch(/\/verify-email\/sent$/);
    await world.mail.next(email);
    // Right password, address not confirmed yet: 403, not a 401 from a bound in UTF-16 units.
    expect((await tryLogIn(setup, email, emoji)).status).toBe(403);
    const admin = await adminCaller(world.running, 'admin:write');
    const create = (body: unknown) =>
      fetch(`${world.running.url}/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await create({ email: unique('api-emoji'), password: emoji })).status).toBe(201);
    const tooLong = await create({ email: unique('api-long'), password: '😀'.repeat(1025) });
    expect(tooLong.status).toBe(400);
    expect(JSON.stringify(await tooLong.json())).toContain('must be at most 1024 characters');
    const common = await create({ email: unique('api-common'), password: 'password123' });
    expect(JSON.stringify(await common.json())).toContain('most common passwords');
  });

  test('an invitation to an address someone signed up but never confirmed takes that account over', async () => {
    const email = unique('invited');
    await cliJson(['user', 'invite', '--email', email], world.running.env);
    const invitation = linkIn(await world.mail.next(email), `${world.running.url}/invitation?token=`);
    await signUp(new Person(world.running.url), email, OTHER_PASSWORD);
    await world.mail.next(email, { after: 1 });
    const squatter = await world.running.db.prisma.user.findUniqueOrThrow({ where: { email } });

    const person = new Person(world.running.url);
    const form = await person.open(invitation);
    const name = await person.submit(form, '/invitation', {
      token: hiddenField(form.body, 'token'),
      name: 'two\nlines',
      password: STRONG_PASSWORD,
    });
    expect(name.page.body).toContain('The name must be one line of ordinary text');
    const done = await person.submit(name.page, '/invitation', {
      token: hiddenField(name.page.body, 'token'),
      name: 'Grace',
      password: STRONG_PASSWORD,
    });
    expect(done.page.url).toMatch(/\/invitation\/done$/);
    const user = await world.running.db.prisma.user.findUniqueOrThrow({ where: { email } });
    expect(user).toMatchObject({ id: squatter.id, name: 'Grace', emailVerified: true });
    expect(loggedIn(await tryLogIn(setup, email, STRONG_PASSWORD))).toBe(true);
    expect((await tryLogIn(setup, email, OTHER_PASSWORD)).status).toBe(401);
  });

  test('ui_locales=de from an English browser: the forgotten-password page and its mail are German', async () => {
    const email = unique('lang');
    await cliJson(['user', 'create', '--email', email, '--password-stdin'], world.running.env, STRONG_PASSWORD);
    const { url } = await pkceAuthorization(setup.config, { redirect_uri: REDIRECT, scope: 'openid', ui_locales: 'de' });
    const person = new Person(world.running.url, undefined, 'en-GB,en;q=0.9');
    const login = await person.follow(url);
    expect(login.body).toContain('lang="de"');
    const forgotUrl = /href="(\/forgot-password\?interaction=[^"]+)"/.exec(login.body)![1]!.replace(/&amp;/g, '&');
    const forgot = await person.open(forgotUrl);
    expect(forgot.body).toContain('lang="de"');
    const signupUrl = /href="(\/signup\?interaction=[^"]+)"/.exec(login.body)![1]!.replace(/&amp;/g, '&');
    expect((await person.open(signupUrl)).body).toContain('lang="de"');
    const sent = await person.submit(await person.open('/forgot-password'), '/forgot-password', { email });
    expect(sent.page.body).toContain('lang="de"');
    expect((await world.mail.next(email)).subject).toBe('Setzen Sie Ihr Passwort für Portcullis zurück');
  });

  test('the account-exists notice is sent once per submitted form, not once per minute', async () => {
    const email = unique('notice');
    await cliJson(['user', 'create', '--email', email, '--password-stdin'], world.running.env, STRONG_PASSWORD);
    const person = new Person(world.running.url);
    const form = await person.open('/signup');
    const fields = { csrf: hiddenField(form.body, 'csrf'), attempt: hiddenField(form.body, 'attempt'), email, password: STRONG_PASSWORD };
    // The same form twice (a double click): one notice.
    await person.request('/signup', { form: fields });
    await person.request('/signup', { form: fields });
    // A new form, within the same minute: a new notice.
    await signUp(person, email);
    await world.running.server.services.selfService.settled();
    await world.mail.next(email, { after: 1 });
    await world.running.server.services.outbox.flush();
    expect(world.mail.to(email)).toHaveLength(2);
  });

  test('a disabled account is not verified by its link', async () => {
    const email = unique('disabled');
    const person = new Person(world.running.url);
    await signUp(person, email);
    const link = linkIn(await world.mail.next(email), `${world.running.url}/verify-email?token=`);
    const { id } = await world.running.db.prisma.user.findUniqueOrThrow({ where: { email } });
    await world.running.server.services.users.setDisabled(id, true, CLI_ACTOR);
    const page = await person.open(link);
    const post = await person.request('/verify-email', {
      form: { csrf: hiddenField(page.body, 'csrf'), token: hiddenField(page.body, 'token') },
    });
    expect(post.location).not.toMatch(/\/verify-email\/done$/);
    expect((await world.running.db.prisma.user.findUniqueOrThrow({ where: { id } })).emailVerified).toBe(false);
  });

  test('without deliverable mail an unverified account is refused (its owner could never confirm it)', async () => {
    const users = createUserService({
      prisma: world.running.db.prisma,
      audit: world.running.server.services.audit,
      unverifiedAllowed: false,
    });
    const email = unique('nomail');
    await expect(users.create({ email, password: STRONG_PASSWORD, unverified: true }, CLI_ACTOR)).rejects.toThrow(/SMTP_URL/);
    expect(await world.running.db.prisma.user.count({ where: { email } })).toBe(0);
  });

  test('mail buttons wear Portcullis’s own colours without BRAND_COLOR', async () => {
    const email = unique('colour');
    await signUp(new Person(world.running.url), email);
    expect((await world.mail.next(email)).html).toContain('background:#3451b2;color:#ffffff;');
  });
});

describe('EMAIL_VERIFICATION=optional, BRAND_COLOR set', () => {
  let setup: Setup;
  let world: World;
  beforeAll(async () => {
    setup = await setUp({ EMAIL_VERIFICATION: 'optional', BRAND_COLOR: '#ffcc00' });
    world = setup.world;
  });
  afterAll(() => world.stop());

  test('a sign-up for an address that has an unverified account tells its owner, and the owner keeps the account', async () => {
    const email = unique('victim');
    await signUp(new Person(world.running.url), email, STRONG_PASSWORD);
    await world.mail.next(email);
    const before = await tryLogIn(setup, email, STRONG_PASSWORD);
    expect(loggedIn(before)).toBe(true);
    // Past the retry window (a sign-up at once would be taken for the same one sent twice: nothing is sent).
    await world.running.db.prisma.accountToken.updateMany({ where: { email }, data: { createdAt: new Date(Date.now() - 3_600_000) } });

    const attacker = await signUp(new Person(world.running.url), email, OTHER_PASSWORD);
    expect(attacker.page.url).toMatch(/\/verify-email\/sent$/);
    const notice = await world.mail.next(email, { after: 1 });
    expect(notice.subject).toBe('You already have a Portcullis account');
    expect(notice.text).not.toMatch(/verify-email\?token=/);
    expect(loggedIn(await tryLogIn(setup, email, STRONG_PASSWORD))).toBe(true);
    expect((await tryLogIn(setup, email, OTHER_PASSWORD)).status).toBe(401);
  });

  test('mail buttons wear BRAND_COLOR, with near-black text on a light colour', async () => {
    const email = unique('brand');
    await signUp(new Person(world.running.url), email);
    expect((await world.mail.next(email)).html).toContain('background:#ffcc00;color:#15161a;');
  });
});
