// The account page's sign-in security over real HTTP on a real server and database: setting up
// an authenticator app with codes computed from the key the page shows, wrong and malformed codes
// (counted with the login limits), recovery codes shown once and made anew, a passkey added and
// removed (with the software authenticator), removals confirmed on a page of their own, sudo mode
// for every change, CSRF, and nothing of it with MFA=off.
import { Secret, TOTP } from 'otpauth';
import { csrfFrom, UserAgent } from '../support/browser.ts';
import { createAuthenticator } from '../support/authenticator.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { createUser, signInToAccount } from './support.ts';

const PASSWORD = 'a long and private passphrase';
let running: RunningServer;

beforeAll(async () => {
  running = await startServer();
});
afterAll(async () => {
  await running?.stop();
});

/** A form POST of a signed-in agent, with the CSRF token of the page it came from. */
async function post(server: RunningServer, agent: UserAgent, path: string, form: Record<string, string>, from = '/account') {
  const page = await agent.request(`${server.url}${from}`);
  return agent.request(`${server.url}${path}`, { form: { csrf: csrfFrom(page.body), ...form } });
}

/** A POST and the page its 303 leads to. */
async function submit(server: RunningServer, agent: UserAgent, path: string, form: Record<string, string>, from = '/account') {
  const posted = await post(server, agent, path, form, from);
  expect(posted.status).toBe(303);
  return { posted, shown: await agent.request(posted.location!) };
}

/** A person signed in to the account page in an agent of their own. */
async function signedIn(server: RunningServer, email: string) {
  const userId = await createUser(server.env, email, PASSWORD);
  const agent = new UserAgent();
  await signInToAccount(server.url, email, PASSWORD, agent);
  return { userId, agent };
}

/** The setup key the page shows, grouped for reading, and an app that computes its codes. */
function appFrom(html: string) {
  const grouped = /<code class="secret"[^>]*>([A-Z2-7 ]+)<\/code>/.exec(html)?.[1];
  if (!grouped) throw new Error(`no setup key in the page:\n${html.slice(0, 600)}`);
  return { grouped, totp: new TOTP({ secret: Secret.fromBase32(grouped.replaceAll(' ', '')), digits: 6, period: 30, algorithm: 'SHA1' }) };
}

const codesIn = (html: string) => [...html.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((match) => match[1]!);
const events = (type: string, subject: string) => running.db.prisma.auditEvent.findMany({ where: { type, subject } });
const decode = (html: string) => html.replaceAll('&#39;', "'").replaceAll('&quot;', '"').replaceAll('&amp;', '&');

describe('an authenticator app', () => {
  test('set up with a code from the key on the page; recovery codes shown once; listed on the account page', async () => {
    const { userId, agent } = await signedIn(running, 'app@example.com');
    const account = await agent.request(`${running.url}/account`);
    expect(account.body).toContain('Sign-in security');
    expect(account.body).toContain('href="/account/security/totp"');
    expect(account.body).toContain('Recovery codes are made when you add your first app or passkey.');

    const page = await agent.request(`${running.url}/account/security/totp`);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<div class="qr" role="img" aria-label="QR code for your authenticator app"><svg/);
    expect(page.body).toMatch(/id="code" name="code" type="text" inputmode="numeric"[^>]*autocomplete="one-time-code"/);
    const { grouped, totp } = appFrom(page.body);
    expect(grouped).toMatch(/^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/);
    // A reload shows the same pending key (the app scanned it already).
    expect(appFrom((await agent.request(`${running.url}/account/security/totp`)).body).grouped).toBe(grouped);

    const done = await submit(running, agent, '/account/security/totp', { code: totp.generate() }, '/account/security/totp');
    expect(done.posted.location).toBe(`${running.url}/account/security/recovery-codes`);
    expect(done.shown.body).toContain('Your authenticator app is set up.');
    const codes = codesIn(done.shown.body);
    expect(codes).toHaveLength(10);
    expect(done.shown.body).toContain('I have saved them');
    expect(await running.server.services.factors.recoveryCodes.use(userId, codes[0]!, { language: 'en' })).toBe('ok');

    // Shown once: a reload shows none, and says so.
    const again = await agent.request(`${running.url}/account/security/recovery-codes`);
    expect(codesIn(again.body)).toEqual([]);
    expect(again.body).toContain('Recovery codes are shown only once');

    const after = await agent.request(`${running.url}/account`);
    expect(after.body).toMatch(/Set up [A-Z][a-z]{2} \d/);
    expect(after.body).toContain('9 unused codes left.');
    expect(after.body).toContain('action="/account/security/totp/remove"');
    expect(after.body).not.toContain('href="/account/security/totp"');
    expect(await events('mfa.totp.enrolled', userId)).toHaveLength(1);
    // Set up, the setup page sends the person back.
    const setUp = await agent.request(`${running.url}/account/security/totp`);
    expect(setUp.status).toBe(303);
  });

  test('a wrong code and a malformed one are refused on the field; wrong codes count with the login limits', async () => {
    const { userId, agent } = await signedIn(running, 'wrong@example.com');
    const page = await agent.request(`${running.url}/account/security/totp`);
    const { totp } = appFrom(page.body);
    const right = totp.generate();
    const wrongCode = String((Number(right) + 500_000) % 1_000_000).padStart(6, '0');

    const malformed = await submit(running, agent, '/account/security/totp', { code: '12ab' }, '/account/security/totp');
    expect(malformed.posted.location).toBe(`${running.url}/account/security/totp`);
    expect(malformed.shown.body).toContain('Enter the six digits your app shows.');
    expect(malformed.shown.body).toMatch(/id="code"[^>]*aria-describedby="code-hint form-error" autofocus aria-invalid="true"/);

    const wrong = await submit(running, agent, '/account/security/totp', { code: wrongCode }, '/account/security/totp');
    expect(decode(wrong.shown.body)).toContain('That code is not right.');
    expect(wrong.shown.body).toMatch(/id="code"[^>]*autofocus aria-invalid="true"/);
    expect((await running.server.services.factors.summary(userId)).totp).toBeNull();

    // Five guesses from one network (LOGIN_MAX_FAILURES) lock the account there, as at the login;
    // a malformed code was not one of them.
    for (let guess = 0; guess < 4; guess += 1)
      await submit(running, agent, '/account/security/totp', { code: wrongCode }, '/account/security/totp');
    const locked = await submit(running, agent, '/account/security/totp', { code: right }, '/account/security/totp');
    expect(locked.shown.body).toMatch(/Too many attempts\. Try again in \d+ minutes\./);
    expect((await running.server.services.factors.summary(userId)).totp).toBeNull();
  });

  test('removed after a confirmation page; refused without the CSRF token', async () => {
    const { userId, agent } = await signedIn(running, 'remove@example.com');
    const { totp } = appFrom((await agent.request(`${running.url}/account/security/totp`)).body);
    await submit(running, agent, '/account/security/totp', { code: totp.generate() }, '/account/security/totp');

    const confirm = await agent.request(`${running.url}/account/security/totp/remove`);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Remove the authenticator app?');
    expect(confirm.body).toContain('action="/account/security/totp/remove"');
    expect((await running.server.services.factors.summary(userId)).totp).not.toBeNull();

    const forged = await agent.request(`${running.url}/account/security/totp/remove`, { form: { csrf: 'not-the-token' } });
    expect(forged.status).toBe(403);
    const missing = await agent.request(`${running.url}/account/security/totp/remove`, { form: {} });
    expect(missing.status).toBe(403);
    expect((await running.server.services.factors.summary(userId)).totp).not.toBeNull();

    const removed = await submit(running, agent, '/account/security/totp/remove', {}, '/account/security/totp/remove');
    expect(removed.posted.location).toBe(`${running.url}/account`);
    expect(removed.shown.body).toContain('The authenticator app was removed');
    expect((await running.server.services.factors.summary(userId)).totp).toBeNull();
    expect(await events('mfa.totp.removed', userId)).toHaveLength(1);
  });
});

describe('recovery codes', () => {
  test('made anew after a confirmation page: the old ones stop working, the new ones are shown once', async () => {
    const { userId, agent } = await signedIn(running, 'codes@example.com');
    // Not offered without a factor to stand in for.
    const early = await agent.request(`${running.url}/account/security/recovery-codes/new`);
    expect(early.status).toBe(303);
    const { totp } = appFrom((await agent.request(`${running.url}/account/security/totp`)).body);
    const first = codesIn(
      (await submit(running, agent, '/account/security/totp', { code: totp.generate() }, '/account/security/totp')).shown.body,
    );

    const confirm = await agent.request(`${running.url}/account/security/recovery-codes/new`);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Make new recovery codes?');
    expect(confirm.body).toContain('The codes you have now stop working at once.');

    const made = await submit(running, agent, '/account/security/recovery-codes/new', {}, '/account/security/recovery-codes/new');
    expect(made.posted.location).toBe(`${running.url}/account/security/recovery-codes`);
    expect(made.shown.body).toContain('Ten new recovery codes: your old ones no longer work.');
    const second = codesIn(made.shown.body);
    expect(second).toHaveLength(10);
    expect(second.some((code) => first.includes(code))).toBe(false);
    expect(await running.server.services.factors.recoveryCodes.use(userId, first[0]!, { language: 'en' })).toBe('wrong');
    expect(await running.server.services.factors.recoveryCodes.use(userId, second[0]!, { language: 'en' })).toBe('ok');
    expect(codesIn((await agent.request(`${running.url}/account/security/recovery-codes`)).body)).toEqual([]);
    expect(await events('mfa.recovery_codes.generated', userId)).not.toHaveLength(0);
  });
});

describe('passkeys', () => {
  test('added with the options on the page, listed, and removed after a confirmation page', async () => {
    const { userId, agent } = await signedIn(running, 'passkey@example.com');
    const page = await agent.request(`${running.url}/account/security/passkeys/new`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-passkey="register"');
    expect(page.body).toContain('data-error-cancelled="No passkey was made');
    expect(page.body).toContain('<script src="/assets/passkeys.js" defer>');
    const options = JSON.parse(/<script type="application\/json" id="webauthn-options">([^<]+)<\/script>/.exec(page.body)![1]!);
    expect(options.rp.id).toBe(new URL(running.url).hostname);

    const authenticator = createAuthenticator({ rpId: new URL(running.url).hostname, origin: running.url, synced: false });
    const response = authenticator.attest(options);
    const csrf = csrfFrom(page.body);
    const added = await agent.request(`${running.url}/account/security/passkeys`, { form: { csrf, name: 'Work laptop', response } });
    expect(added.status).toBe(303);
    // The first factor: its recovery codes, once.
    expect(added.location).toBe(`${running.url}/account/security/recovery-codes`);
    expect(codesIn((await agent.request(added.location!)).body)).toHaveLength(10);

    const account = await agent.request(`${running.url}/account`);
    expect(account.body).toContain('<strong>Work laptop</strong>');
    expect(account.body).toContain('On one device only');
    expect(account.body).toContain('not used yet');
    const [passkey] = await running.server.services.factors.passkeys.list(userId);
    expect(passkey).toMatchObject({ name: 'Work laptop', synced: false });

    // The same answer again: its challenge was used.
    const replayed = await agent.request(`${running.url}/account/security/passkeys`, { form: { csrf, name: 'Again', response } });
    expect(replayed.location).toBe(`${running.url}/account/security/passkeys/new`);
    expect((await agent.request(replayed.location!)).body).toContain('That took too long or the page was old');
    // Garbage is refused, not a 500.
    const garbage = await post(
      running,
      agent,
      '/account/security/passkeys',
      { name: 'X', response: '{"nope":' },
      '/account/security/passkeys/new',
    );
    expect(garbage.status).toBe(303);

    const confirm = await agent.request(`${running.url}/account/security/passkeys/${passkey!.id}/remove`);
    expect(confirm.body).toContain('Remove the passkey Work laptop?');
    expect((await agent.request(`${running.url}/account/security/passkeys/not-mine/remove`)).status).toBe(404);
    const removed = await submit(
      running,
      agent,
      `/account/security/passkeys/${passkey!.id}/remove`,
      {},
      `/account/security/passkeys/${passkey!.id}/remove`,
    );
    expect(removed.shown.body).toContain('The passkey Work laptop was removed.');
    expect(await running.server.services.factors.passkeys.list(userId)).toEqual([]);
    expect(await events('mfa.passkey.removed', userId)).toHaveLength(1);
  });
});

describe('sudo mode', () => {
  let sudo: RunningServer;
  beforeAll(async () => {
    sudo = await startServer({ RECENT_SIGN_IN_SECONDS: '1' });
  });
  afterAll(async () => {
    await sudo?.stop();
  });

  test('once the sign-in is not recent, setting up, new codes and removing need the password again', async () => {
    const { userId, agent } = await signedIn(sudo, 'sudo@example.com');
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const page = await agent.request(`${sudo.url}/account/security/totp`);
    expect(page.body).toMatch(/id="totp-password" name="password" type="password"/);
    const { totp } = appFrom(page.body);

    const without = await submit(sudo, agent, '/account/security/totp', { code: totp.generate() }, '/account/security/totp');
    expect(without.shown.body).toContain('Confirm it is you: enter your password.');
    expect(without.shown.body).toMatch(/id="totp-password"[^>]*autofocus aria-invalid="true"/);
    const wrong = await submit(
      sudo,
      agent,
      '/account/security/totp',
      { code: totp.generate(), password: 'not it' },
      '/account/security/totp',
    );
    expect(wrong.shown.body).toContain('Confirm it is you: enter your password.');
    expect((await sudo.server.services.factors.summary(userId)).totp).toBeNull();

    const right = await submit(
      sudo,
      agent,
      '/account/security/totp',
      { code: totp.generate(), password: PASSWORD },
      '/account/security/totp',
    );
    expect(right.posted.location).toBe(`${sudo.url}/account/security/recovery-codes`);
    expect((await sudo.server.services.factors.summary(userId)).totp).not.toBeNull();

    for (const path of ['/account/security/recovery-codes/new', '/account/security/totp/remove']) {
      const confirm = await agent.request(`${sudo.url}${path}`);
      expect(confirm.body).toMatch(/id="password" name="password" type="password"/);
      const refused = await submit(sudo, agent, path, {}, path);
      expect(refused.posted.location).toBe(`${sudo.url}${path}`);
      expect(refused.shown.body).toContain('Confirm it is you: enter your password.');
    }
    expect((await sudo.server.services.factors.summary(userId)).totp).not.toBeNull();

    const addPage = await agent.request(`${sudo.url}/account/security/passkeys/new`);
    expect(addPage.body).toMatch(/id="passkey-password" name="password" type="password"/);
    const refused = await submit(
      sudo,
      agent,
      '/account/security/passkeys',
      { name: 'Kept', response: '{}' },
      '/account/security/passkeys/new',
    );
    expect(refused.shown.body).toContain('Confirm it is you: enter your password.');
    expect(refused.shown.body).toMatch(/id="passkey-name"[^>]*value="Kept"/);

    const removed = await submit(sudo, agent, '/account/security/totp/remove', { password: PASSWORD }, '/account/security/totp/remove');
    expect(removed.shown.body).toContain('The authenticator app was removed');
  });
});

describe('MFA=off', () => {
  let off: RunningServer;
  beforeAll(async () => {
    off = await startServer({ MFA: 'off' });
  });
  afterAll(async () => {
    await off?.stop();
  });

  test('the account page has no sign-in security section, and its pages do not exist', async () => {
    const { agent } = await signedIn(off, 'off@example.com');
    const account = await agent.request(`${off.url}/account`);
    expect(account.status).toBe(200);
    expect(account.body).not.toContain('Sign-in security');
    expect(account.body).not.toContain('/account/security');
    for (const path of ['/account/security/totp', '/account/security/passkeys/new', '/account/security/recovery-codes/new']) {
      expect((await agent.request(`${off.url}${path}`)).status).toBe(404);
    }
    const posted = await post(off, agent, '/account/security/totp', { code: '123456' });
    expect(posted.status).toBe(404);
  });
});

describe('the browser side', () => {
  test('passkeys.js and @simplewebauthn/browser are served from this origin as scripts', async () => {
    for (const [path, marker] of [
      ['/assets/passkeys.js', 'data-passkey'],
      ['/assets/webauthn-browser.js', 'SimpleWebAuthnBrowser'],
    ] as const) {
      const response = await fetch(`${running.url}${path}`);
      expect([path, response.status, response.headers.get('content-type')]).toEqual([path, 200, 'text/javascript; charset=utf-8']);
      expect(await response.text()).toContain(marker);
    }
  });
});

describe('in German', () => {
  test('the section and the setup page speak the browser’s language', async () => {
    const { agent } = await signedIn(running, 'deutsch@example.com');
    const headers = { 'accept-language': 'de' };
    expect((await agent.request(`${running.url}/account`, { headers })).body).toContain('Sicherheit bei der Anmeldung');
    expect((await agent.request(`${running.url}/account/security/totp`, { headers })).body).toContain('Authenticator-App einrichten');
  });
});
