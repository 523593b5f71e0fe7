// A real SMTP server for the tests (the smtp-server package, on 127.0.0.1 and an ephemeral
// port): Portcullis sends to it over SMTP as it would to any mail server, and a test reads what
// arrived. The parsing here is just enough for what nodemailer writes: headers (with RFC 2047
// encoded words), one multipart/alternative body, and quoted-printable or base64 parts.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
  raw: string;
}

export interface MailServer {
  /** SMTP_URL for a Portcullis pointing at this server. */
  url: string;
  received: ReceivedMail[];
  /** The first mail to `to` (after `after` mails to it) that `match` accepts; waits at most `timeoutMs`. */
  next(to: string, options?: { after?: number; subject?: RegExp; timeoutMs?: number }): Promise<ReceivedMail>;
  /** Mails received so far to `to`. */
  to(address: string): ReceivedMail[];
  /** When `fail` is set, every mail is refused with a temporary error (a mail server down). */
  setFailing(fail: boolean): void;
  close(): Promise<void>;
}

export async function startMailServer(): Promise<MailServer> {
  const received: ReceivedMail[] = [];
  const waiting = new Set<() => void>();
  let failing = false;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (failing) {
          const error = Object.assign(new Error('try again later'), { responseCode: 451 });
          callback(error);
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        received.push({ ...parseMail(raw), to: session.envelope.rcptTo.map((rcpt) => rcpt.address.toLowerCase()) });
        for (const wake of waiting) wake();
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const to = (address: string) => received.filter((mail) => mail.to.includes(address.toLowerCase()));
  return {
    url: `smtp://127.0.0.1:${port}?ignoreTLS=true`,
    received,
    to,
    setFailing(fail) {
      failing = fail;
    },
    async next(address, { after = 0, subject, timeoutMs = 10_000 } = {}) {
      const find = () => to(address).filter((mail) => !subject || subject.test(mail.subject))[after];
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = find();
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(
            `no mail #${after + 1} to ${address}${subject ? ` matching ${subject}` : ''}; got: ${received.map((m) => `${m.to.join(',')}: ${m.subject}`).join(' | ') || 'none'}`,
          );
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            waiting.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, Math.min(left, 200));
          waiting.add(wake);
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The links in a mail's text part. */
export function linksIn(mail: ReceivedMail): string[] {
  return [...mail.text.matchAll(/https?:\/\/[^\s<>"]+/g)].map((match) => match[0]);
}

/** The one link in a mail's text that starts with `prefix` (a base URL and path). */
export function linkIn(mail: ReceivedMail, prefix: string): string {
  const link = linksIn(mail).find((candidate) => candidate.startsWith(prefix));
  if (!link) throw new Error(`no link to ${prefix} in mail "${mail.subject}":\n${mail.text}`);
  return link;
}

/** The six-digit code in a verification mail's text. */
export function codeIn(mail: ReceivedMail): string {
  const match = /\b(\d{6})\b/.exec(mail.text);
  if (!match) throw new Error(`no code in mail:\n${mail.text}`);
  return match[1]!;
}

function parseMail(raw: string): Omit<ReceivedMail, 'to'> {
  const { headers, body } = splitHeaders(raw);
  const type = headers['content-type'] ?? 'text/plain';
  const parts: { type: string; content: string }[] = [];
  collectParts(type, headers, body, parts);
  return {
    from: decodeWords(headers.from ?? ''),
    subject: decodeWords(headers.subject ?? ''),
    text: parts.find((part) => part.type.startsWith('text/plain'))?.content ?? '',
    html: parts.find((part) => part.type.startsWith('text/html'))?.content ?? '',
    headers,
    raw,
  };
}

function collectParts(type: string, headers: Record<string, string>, body: string, parts: { type: string; content: string }[]): void {
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (type.toLowerCase().startsWith('multipart/') && boundary) {
    for (const section of body.split(`--${boundary}`).slice(1)) {
      if (section.startsWith('--')) break;
      const inner = splitHeaders(section.replace(/^\r?\n/, ''));
      collectParts(inner.headers['content-type'] ?? 'text/plain', inner.headers, inner.body, parts);
    }
    return;
  }
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  const bytes =
    encoding === 'base64'
      ? Buffer.from(body.replace(/\s/g, ''), 'base64')
      : encoding === 'quoted-printable'
        ? quotedPrintable(body)
        : Buffer.from(body, 'utf8');
  parts.push({ type: type.toLowerCase(), content: bytes.toString('utf8').replace(/\r\n/g, '\n') });
}

function splitHeaders(text: string): { headers: Record<string, string>; body: string } {
  const end = text.search(/\r?\n\r?\n/);
  const head = end === -1 ? text : text.slice(0, end);
  const body = end === -1 ? '' : text.slice(end).replace(/^\r?\n\r?\n/, '');
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function quotedPrintable(text: string): Buffer {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i += 1) {
    if (joined[i] === '=' && /^[0-9A-F]{2}$/i.test(joined.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

/** RFC 2047 encoded words (=?UTF-8?Q?...?= and =?UTF-8?B?...?=), adjacent ones joined. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QB])\?([^?]*)\?=/gi, (_, _charset: string, kind: string, data: string) =>
      kind.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : quotedPrintable(data.replace(/_/g, ' ')).toString('utf8'),
    );
}
