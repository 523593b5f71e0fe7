// The mail outbox against a real SMTP server (smtp-server, on 127.0.0.1): a mail is sealed at
// rest and erased once sent, a refused send is retried and never lost, a dedupe key sends once,
// two senders never send one mail twice, an intent is resolved by its handler under the same
// retries, and without SMTP_URL mail lands in .eml files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { composeMail, createOutbox, createTransport, RETRY_DELAYS_SECONDS } from '../../src/mail/index.ts';
import { createViews } from '../../src/templates/index.ts';
import { startServices, type TestServices } from '../support/services.ts';

interface Received {
  to: string[];
  raw: string;
}

/** An SMTP server on 127.0.0.1 that keeps what it receives; `refuse` makes it answer 451 to DATA. */
async function smtpServer() {
  const received: Received[] = [];
  const state = { refuse: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      // A mailbox that does not exist, as a real server answers it (its reply names the address).
      if (address.address.startsWith('nobody'))
        return callback(Object.assign(new Error(`5.1.1 <${address.address}>: Recipient address rejected`), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (state.refuse > 0) {
          state.refuse -= 1;
          const error = Object.assign(new Error('try again later'), { responseCode: 451 });
          return callback(error);
        }
        received.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}?ignoreTLS=true`,
    received,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let running: TestServices;
let smtp: Awaited<ReturnType<typeof smtpServer>>;
const logger = pino({ level: 'silent' });
const views = createViews();

beforeAll(async () => {
  smtp = await smtpServer();
  running = await startServices();
});
afterAll(async () => {
  await running.stop();
  await smtp.close();
});

function outboxFor(url: string | undefined, outboxDirectory = os.tmpdir(), log = logger) {
  const transport = createTransport({ smtpUrl: url, from: 'Portcullis <no-reply@localhost>', outboxDirectory, logger: log });
  return {
    transport,
    outbox: createOutbox({
      prisma: running.db.prisma,
      provider: running.db.provider,
      transport,
      logger: log,
      sealingKey: Buffer.from(running.config.keyEncryptionKey).toString('base64url'),
      pepper: running.config.hashPepper,
    }),
  };
}

const mail = (to: string, secret: string) => ({
  to,
  purpose: 'test_mail',
  subject: 'A link',
  text: `Follow http://127.0.0.1/verify?token=${secret}`,
  html: `<p><a href="http://127.0.0.1/verify?token=${secret}">Follow</a></p>`,
});

test('a mail is sealed at rest, sent over SMTP, and erased once sent', async () => {
  const { outbox, transport } = outboxFor(smtp.url);
  const secret = 'secret-token-0123456789-abcdefghij';
  expect(await outbox.enqueue(running.db.prisma, mail('ada@example.com', secret))).toBe(true);
  const [row] = await running.db.prisma.outboxMessage.findMany({ where: { to: 'ada@example.com' } });
  expect(row!.sealed).not.toContain(secret);
  expect(row!.sealed).not.toContain('Follow');
  expect(await outbox.flush()).toBe(1);
  const got = smtp.received.find((message) => message.to.includes('ada@example.com'));
  expect(got?.raw).toContain(secret);
  const after = await running.db.prisma.outboxMessage.findUniqueOrThrow({ where: { id: row!.id } });
  expect(after.sentAt).not.toBeNull();
  expect(after.sealed).toBe('');
  expect(after.to).toBe('');
  transport.close();
});

test('an intent is sealed, kept until a handler resolves it, and erased with its address once resolved', async () => {
  const { outbox, transport } = outboxFor(smtp.url);
  const address = 'intent.ada@example.com';
  await outbox.intend(running.db.prisma, 'test-intent', address, { visitor: { ip: '192.0.2.7', lang: 'de' } });
  const written = await running.db.prisma.outboxMessage.findFirstOrThrow({ where: { to: address } });
  expect(written.purpose).toBe('intent:test-intent');
  expect(written.sealed).not.toContain('192.0.2.7');
  // No handler for its kind in this process: the intent fails like a refused mail and waits for its retry.
  expect(await outbox.flush()).toBe(0);
  const waiting = await running.db.prisma.outboxMessage.findUniqueOrThrow({ where: { id: written.id } });
  expect(waiting).toMatchObject({ attempts: 1, sentAt: null, failedAt: null, lastError: 'NoHandler', to: address });
  // Registered (and due): the handler gets the payload, writes its mail, and that mail goes out in the same flush.
  const seen: unknown[] = [];
  outbox.handle('test-intent', async ({ id, address: to, payload }) => {
    seen.push({ id, to, payload });
    await outbox.enqueue(running.db.prisma, mail(to, 'intent-token-0123456789-abcdefghij'), `test-intent:${id}`);
    outbox.kick();
  });
  await running.db.prisma.outboxMessage.update({ where: { id: written.id }, data: { nextAttemptAt: new Date() } });
  await outbox.flush();
  expect(seen).toEqual([{ id: written.id, to: address, payload: { visitor: { ip: '192.0.2.7', lang: 'de' } } }]);
  expect(smtp.received.filter((message) => message.to.includes(address))).toHaveLength(1);
  const resolved = await running.db.prisma.outboxMessage.findUniqueOrThrow({ where: { id: written.id } });
  expect(resolved).toMatchObject({ sealed: '', to: '', attempts: 2, lastError: null });
  expect(resolved.sentAt).not.toBeNull();
  transport.close();
});

test('a refused send is retried with backoff and the mail is not lost', async () => {
  const { outbox, transport } = outboxFor(smtp.url);
  smtp.state.refuse = 1;
  await outbox.enqueue(running.db.prisma, mail('bob@example.com', 'retry-token-0123456789-abcdefghij'));
  expect(await outbox.flush()).toBe(0);
  const waiting = await running.db.prisma.outboxMessage.findFirstOrThrow({ where: { to: 'bob@example.com' } });
  expect(waiting.attempts).toBe(1);
  expect(waiting.sentAt).toBeNull();
  // The reply's code, not its words.
  expect(waiting.lastError).toMatch(/451/);
  expect(waiting.lastError).not.toMatch(/try again later/);
  const delay = waiting.nextAttemptAt.getTime() - Date.now();
  expect(delay).toBeGreaterThan((RETRY_DELAYS_SECONDS[0]! - 5) * 1000);
  // Not due yet: nothing is sent.
  expect(await outbox.flush()).toBe(0);
  // Due (as the schedule's next tick would find it after the delay): sent.
  await running.db.prisma.outboxMessage.update({ where: { id: waiting.id }, data: { nextAttemptAt: new Date() } });
  expect(await outbox.flush()).toBe(1);
  expect(smtp.received.filter((message) => message.to.includes('bob@example.com'))).toHaveLength(1);
  transport.close();
});

test('a refused recipient leaves no address in the row or the log: only the reply code is kept', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  const { outbox, transport } = outboxFor(smtp.url, os.tmpdir(), log);
  await outbox.enqueue(running.db.prisma, mail('nobody.here@example.com', 'rcpt-token-0123456789-abcdefghij'));
  expect(await outbox.flush()).toBe(0);
  const row = await running.db.prisma.outboxMessage.findFirstOrThrow({ where: { to: 'nobody.here@example.com' } });
  expect(row.lastError).toMatch(/550/);
  expect(row.lastError).not.toContain('nobody.here');
  expect(lines.join('\n')).not.toContain('nobody.here');
  transport.close();
});

test('after the last retry a mail is given up, its message erased', async () => {
  const { outbox, transport } = outboxFor('smtp://127.0.0.1:1?ignoreTLS=true&connectionTimeout=2000');
  await outbox.enqueue(running.db.prisma, mail('carol@example.com', 'lost-token-0123456789-abcdefghij'));
  const row = await running.db.prisma.outboxMessage.findFirstOrThrow({ where: { to: 'carol@example.com' } });
  await running.db.prisma.outboxMessage.update({ where: { id: row.id }, data: { attempts: RETRY_DELAYS_SECONDS.length } });
  await outbox.flush();
  const after = await running.db.prisma.outboxMessage.findUniqueOrThrow({ where: { id: row.id } });
  expect(after.failedAt).not.toBeNull();
  expect(after.sealed).toBe('');
  expect(await outbox.pending()).toMatchObject({ failed: 1 });
  transport.close();
});

test('a dedupe key writes one mail however often the request is retried', async () => {
  const { outbox, transport } = outboxFor(smtp.url);
  const results = [];
  for (let i = 0; i < 3; i += 1)
    results.push(
      await outbox.enqueue(running.db.prisma, mail('dan@example.com', `t-${i}-0123456789-abcdefghij`), 'reset:dan@example.com:1'),
    );
  expect(results).toEqual([true, false, false]);
  await outbox.flush();
  expect(smtp.received.filter((message) => message.to.includes('dan@example.com'))).toHaveLength(1);
  transport.close();
});

test('two senders flushing at once send each mail once', async () => {
  const first = outboxFor(smtp.url);
  const second = outboxFor(smtp.url);
  for (let i = 0; i < 6; i += 1)
    await first.outbox.enqueue(running.db.prisma, mail(`eve${i}@example.com`, `race-${i}-0123456789-abcdefghij`));
  const [a, b] = await Promise.all([first.outbox.flush(), second.outbox.flush()]);
  expect(a + b).toBe(6);
  for (let i = 0; i < 6; i += 1) expect(smtp.received.filter((message) => message.to.includes(`eve${i}@example.com`))).toHaveLength(1);
  first.transport.close();
  second.transport.close();
});

test('without SMTP_URL a mail is written as a .eml file and its link logged', async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-outbox-'));
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const { outbox } = outboxFor(undefined, path.join(folder, 'outbox'), log);
  await outbox.enqueue(running.db.prisma, mail('fay@example.com', 'file-token-0123456789-abcdefghij'));
  expect(await outbox.flush()).toBe(1);
  const files = fs.readdirSync(path.join(folder, 'outbox'));
  expect(files).toHaveLength(1);
  expect(files[0]).toMatch(/test_mail.*\.eml$/);
  const eml = fs.readFileSync(path.join(folder, 'outbox', files[0]!), 'utf8');
  expect(eml).toMatch(/^To: fay@example\.com$/m);
  expect(eml).toContain('file-token-0123456789-abcdefghij');
  const logged = lines.map((line) => JSON.parse(line) as { links?: string[]; file?: string }).find((line) => line.links);
  expect(logged?.links).toEqual(['http://127.0.0.1/verify?token=file-token-0123456789-abcdefghij']);
  fs.rmSync(folder, { recursive: true, force: true });
});

test('composeMail writes the subject from the catalogue and the HTML in the layout, in the language asked', () => {
  // Uses the templates of any mail the product ships; skipped until one exists.
  const templates = fs.existsSync(path.resolve('views/mail'))
    ? fs.readdirSync(path.resolve('views/mail')).filter((name) => name.endsWith('.text.eta') && !name.startsWith('layout'))
    : [];
  for (const file of templates) {
    const template = file.replace(/\.text\.eta$/, '');
    const english = composeMail(views, {
      template,
      to: 'x@example.com',
      lang: 'en',
      data: { link: 'http://127.0.0.1/x', code: '123456', name: 'X', email: 'x@example.com', expiresAt: new Date() },
    });
    const german = composeMail(views, {
      template,
      to: 'x@example.com',
      lang: 'de',
      data: { link: 'http://127.0.0.1/x', code: '123456', name: 'X', email: 'x@example.com', expiresAt: new Date() },
    });
    expect(english.subject).not.toMatch(/^mail\./);
    expect(german.subject).not.toEqual(english.subject);
    expect(english.html).toMatch(/<html/);
    expect(english.html).toContain(views.brand.name);
  }
});
