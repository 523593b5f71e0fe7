// Sudo mode on the account page: once the sign-in is older than RECENT_SIGN_IN_SECONDS, a new
// email address and the data export need the password again (with the login limits), as a new
// API key does. Whoever finds a session left open can then neither move the address to their
// own (and reset the password from there) nor carry the data away. Real HTTP, a real database
// and a real SMTP server.
import { csrfFrom, UserAgent } from '../support/browser.ts';
import { startMailServer, type MailServer } from '../support/mail.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { createUser, signInToAccount } from './support.ts';

const PASSWORD = 'a long and private passphrase';
let mail: MailServer;
let running: RunningServer;
let agent: UserAgent;
let userId: string;

beforeAll(async () => {
  mail = await startMailServer();
  running = await startServer({ SMTP_URL: mail.url, RECENT_SIGN_IN_SECONDS: '1' });
  userId = await createUser(running.env, 'sudo@example.com', PASSWORD, 'Sudo');
  agent = new UserAgent();
  await signInToAccount(running.url, 'sudo@example.com', PASSWORD, agent);
  // The sign-in is no longer recent.
  await new Promise((resolve) => setTimeout(resolve, 2100));
});
afterAll(async () => {
  await running.stop();
  await mail.close();
});

const prisma = () => running.db.prisma;
const changeLinks = () => prisma().accountToken.count({ where: { purpose: 'change_email', userId } });

/** A POST of the signed-in agent and the page its 303 leads to. */
async function submit(path: string, form: Record<string, string>, from = '/account') {
  const page = await agent.request(`${running.url}${from}`);
  const posted = await agent.request(`${running.url}${path}`, { form: { csrf: csrfFrom(page.body), ...form } });
  expect(posted.status).toBe(303);
  return { posted, shown: await agent.request(posted.location!) };
}

test('a new email address needs the password again once the sign-in is not recent', async () => {
  const page = await agent.request(`${running.url}/account`);
  expect(page.body).toMatch(/id="email-password" name="password" type="password"/);

  const without = await submit('/account/email', { email: 'elsewhere@example.com' });
  expect(without.shown.body).toContain('Confirm it is you: enter your password.');
  expect(without.shown.body).toMatch(/id="email-password"[^>]*autofocus aria-invalid="true"/);
  expect(without.shown.body).toMatch(/id="new-email"[^>]*value="elsewhere@example.com"/);
  const wrong = await submit('/account/email', { email: 'elsewhere@example.com', password: 'not it' });
  expect(wrong.shown.body).toContain('Confirm it is you: enter your password.');
  expect(await changeLinks()).toBe(0);
  // A wrong password is a failed login, as on the login page.
  const failures = await prisma().auditEvent.findMany({ where: { type: 'login', subject: userId, outcome: 'failure' } });
  expect(failures.map((event) => (event.details as { purpose?: string }).purpose)).toContain('change_email');

  const right = await submit('/account/email', { email: 'elsewhere@example.com', password: PASSWORD });
  expect(right.shown.body).toContain('We sent a link to elsewhere@example.com');
  expect(await changeLinks()).toBe(1);
  await mail.next('elsewhere@example.com', { subject: /Confirm your new email/ });
});

test('the data export asks for the password on a page of its own, and the download it allows works once', async () => {
  const asked = await agent.request(`${running.url}/account/export`);
  expect(asked.status).toBe(200);
  expect(asked.headers.get('content-type')).toMatch(/^text\/html/);
  expect(asked.body).toContain('Download your data?');
  expect(asked.body).toMatch(/id="password" name="password" type="password"/);
  expect(asked.body).not.toContain('"profile"');

  const refused = await agent.request(`${running.url}/account/export`, { form: { csrf: csrfFrom(asked.body), password: 'not it' } });
  expect(refused.status).toBe(303);
  expect(refused.location).toBe(`${running.url}/account/export`);
  const again = await agent.request(refused.location!);
  expect(again.headers.get('content-type')).toMatch(/^text\/html/);
  expect(again.body).toContain('Confirm it is you: enter your password.');
  expect(again.body).toMatch(/id="password"[^>]*autofocus/);

  const allowed = await agent.request(`${running.url}/account/export`, { form: { csrf: csrfFrom(asked.body), password: PASSWORD } });
  expect(allowed.status).toBe(303);
  expect(allowed.location).toBe(`${running.url}/account/export`);
  const download = await agent.request(allowed.location!);
  expect(download.status).toBe(200);
  expect(download.headers.get('content-type')).toMatch(/^application\/json/);
  expect(download.headers.get('content-disposition')).toMatch(/^attachment; /);
  expect((JSON.parse(download.body) as { profile: { id: string } }).profile.id).toBe(userId);
  // Allowed once: the next download asks again.
  const next = await agent.request(`${running.url}/account/export`);
  expect(next.headers.get('content-type')).toMatch(/^text\/html/);
  expect(next.body).toContain('Download your data?');
  expect(await prisma().auditEvent.count({ where: { type: 'user.data_exported', subject: userId } })).toBe(1);
});

test('in German too', async () => {
  const german = { 'accept-language': 'de' };
  const page = await agent.request(`${running.url}/account/export`, { headers: german });
  expect(page.body).toContain('Ihre Daten herunterladen?');
  const account = await agent.request(`${running.url}/account`, { headers: german });
  expect(account.body).toContain('Ihr Passwort (Ihre Anmeldung liegt mehr als ein paar Minuten zurück)');
});
