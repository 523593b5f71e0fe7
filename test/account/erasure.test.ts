// Deleting an account leaves no address of it behind: not the present one, not one an email
// change replaced, not one it was being changed to. Not in the outbox (sent or waiting to be
// retried), not in the audit log (failed logins typed with the address before and after the
// change, blocked logins still counted in memory, the email change's own event), while the log
// itself is kept under pseudonyms. Real HTTP, a real database and a real SMTP server that can
// be told to refuse mail (a mail server down), so some mail is still waiting at the deletion.
import { csrfFrom, signIn, UserAgent } from '../support/browser.ts';
import { linkIn, startMailServer, type MailServer } from '../support/mail.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { createUser, signInToAccount } from './support.ts';

const PASSWORD = 'a long and private passphrase';
const OLD = 'first.address@example.com';
const NEW = 'second.address@example.com';
const PENDING = 'third.address@example.com';
let mail: MailServer;
let running: RunningServer;

beforeAll(async () => {
  mail = await startMailServer();
  // One password check per account and network before the lock: the second try is a blocked login.
  running = await startServer({ SMTP_URL: mail.url, LOGIN_MAX_FAILURES: '1' });
});
afterAll(async () => {
  await running.stop();
  await mail.close();
});

const prisma = () => running.db.prisma;

/** A login on the login page (through the account page's sign-in) that does not succeed. */
async function failedLogin(email: string) {
  const agent = new UserAgent();
  const start = await agent.request(`${running.url}/account`);
  const step = await signIn(agent, start.location!, {
    email,
    password: 'not the password',
    redirectUri: `${running.url}/account/callback`,
    consent: false,
  });
  expect([401, 429]).toContain(step.status);
}

/** Waits (bounded) until every mail written so far has been tried at least once. */
async function untilTried() {
  for (let round = 0; round < 200; round += 1) {
    const untried = await prisma().outboxMessage.count({ where: { sentAt: null, failedAt: null, attempts: 0 } });
    if (untried === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the outbox did not try its mail');
}

async function post(agent: UserAgent, path: string, form: Record<string, string>, from = '/account') {
  const page = await agent.request(`${running.url}${from}`);
  const posted = await agent.request(`${running.url}${path}`, { form: { csrf: csrfFrom(page.body), ...form } });
  expect(posted.status).toBe(303);
  return posted;
}

test('deletion erases every address the account had, in the outbox and the audit log', async () => {
  const id = await createUser(running.env, OLD, PASSWORD, 'Erin');
  const agent = new UserAgent();
  await signInToAccount(running.url, OLD, PASSWORD, agent);
  // A failed login typed with the first address, while it is the account's.
  await failedLogin(OLD);

  // A reset asked for while the mail server is down: its mail to the first address waits for a retry.
  mail.setFailing(true);
  const visitor = new UserAgent();
  const forgot = await visitor.request(`${running.url}/forgot-password`);
  expect((await visitor.request(`${running.url}/forgot-password`, { form: { csrf: csrfFrom(forgot.body), email: OLD } })).status).toBe(303);
  await untilTried();
  mail.setFailing(false);
  expect(await prisma().outboxMessage.count({ where: { to: OLD, sentAt: null } })).toBe(1);

  // The address changes to the second one.
  await post(agent, '/account/email', { email: NEW });
  const link = linkIn(await mail.next(NEW, { subject: /Confirm your new email/ }), `${running.url}/account/email/confirm?token=`);
  const confirm = await agent.request(link);
  await agent.request(`${running.url}/account/email/confirm`, {
    form: { csrf: csrfFrom(confirm.body), token: new URL(link).searchParams.get('token')! },
  });
  expect((await prisma().user.findUnique({ where: { id } }))!.email).toBe(NEW);
  // The confirmation's event names the address it replaced, so that it can be found again.
  const [changed] = await prisma().auditEvent.findMany({ where: { type: 'user.email_changed', subject: id } });
  expect(changed!.details).toMatchObject({ previous_email: OLD });

  // The export counts the failed login typed with the first address among the events about the person.
  const exported = JSON.parse((await agent.request(`${running.url}/account/export`)).body) as { audit_events: { subject: string }[] };
  expect(exported.audit_events.map((event) => event.subject)).toContain(OLD);

  // After the change: the first address is blocked (one try per network was used), which is
  // counted in memory, not yet written.
  await failedLogin(OLD);
  expect(await prisma().auditEvent.count({ where: { type: 'login.blocked' } })).toBe(0);

  // A change to a third address asked for while the mail server is down: its link and the
  // notice to the second address wait for a retry.
  mail.setFailing(true);
  await post(agent, '/account/email', { email: PENDING });
  await untilTried();
  mail.setFailing(false);
  expect(await prisma().outboxMessage.count({ where: { to: PENDING, sentAt: null } })).toBe(1);
  expect(await prisma().outboxMessage.count({ where: { to: NEW, sentAt: null } })).toBe(1);

  const page = await agent.request(`${running.url}/account/delete`);
  const deleted = await agent.request(`${running.url}/account/delete`, { form: { csrf: csrfFrom(page.body), password: PASSWORD } });
  expect(deleted.location).toBe(`${running.url}/account/deleted`);
  expect(await prisma().user.count({ where: { id } })).toBe(0);
  // Whatever was still counted in memory is written now: it must not bring an address back.
  await running.server.services.auditAggregates.flush();

  const log = await prisma().auditEvent.findMany();
  const outbox = await prisma().outboxMessage.findMany();
  for (const address of [OLD, NEW, PENDING]) {
    expect(JSON.stringify(log)).not.toContain(address);
    expect(JSON.stringify(outbox)).not.toContain(address);
  }
  // The log is kept: the events are there, under pseudonyms.
  const blocked = log.filter((event) => event.type === 'login.blocked');
  expect(blocked.length).toBeGreaterThan(0);
  for (const event of blocked) expect(event.subject).toMatch(/^erased:/);
  const failures = log.filter((event) => event.type === 'login' && event.outcome === 'failure' && event.actorId === null);
  expect(failures.length).toBeGreaterThan(0);
  for (const event of failures) expect(event.subject).toMatch(/^erased:/);
  // The same address always gets the same pseudonym: the failure before the change and the
  // blocked login after it name one pseudonym, which the email change's event names too.
  const [afterChange] = await prisma().auditEvent.findMany({ where: { type: 'user.email_changed', subject: id } });
  const pseudonym = (afterChange!.details as { previous_email: string }).previous_email;
  expect(pseudonym).toMatch(/^erased:/);
  expect(blocked.map((event) => event.subject)).toContain(pseudonym);
  expect(failures.map((event) => event.subject)).toContain(pseudonym);
});
