// How a mail leaves: nodemailer over SMTP (SMTP_URL: smtp:// upgrades with STARTTLS when the
// server offers it, ?requireTLS=true insists; smtps:// is TLS from the start), or, without a
// mail server outside production, a .eml file in the outbox folder with its links in the log,
// so the two-command start works and a developer can follow a sign-up link.
import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';

/** One mail, written: what the outbox keeps (sealed) and a transport sends. */
export interface Mail {
  to: string;
  /** What the mail is for (verify_email, reset_password, ...), for logs and limits: no secret. */
  purpose: string;
  subject: string;
  text: string;
  html: string;
}

export interface MailTransport {
  /** Sends one mail; throws when the server refused it or could not be reached. */
  send(mail: Mail): Promise<void>;
  close(): void;
}

export interface TransportOptions {
  smtpUrl: string | undefined;
  from: string;
  outboxDirectory: string;
  logger: Logger;
}

/** The links in a mail's text, for the development log. */
const linksIn = (text: string) => [...text.matchAll(/https?:\/\/\S+/g)].map((match) => match[0]);

export function createTransport({ smtpUrl, from, outboxDirectory, logger }: TransportOptions): MailTransport {
  if (smtpUrl) {
    const transporter = nodemailer.createTransport(smtpUrl);
    return {
      async send(mail) {
        await transporter.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
      },
      close: () => transporter.close(),
    };
  }
  const writer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(mail) {
      const info = await writer.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
      fs.mkdirSync(outboxDirectory, { recursive: true, mode: 0o700 });
      const file = path.join(
        outboxDirectory,
        `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.purpose}-${info.messageId.replace(/[^A-Za-z0-9]/g, '').slice(0, 16)}.eml`,
      );
      fs.writeFileSync(file, info.message as Buffer, { mode: 0o600 });
      // Development only (no SMTP_URL, never in production): the link is the way in.
      logger.info(
        { to: mail.to, purpose: mail.purpose, file, links: linksIn(mail.text) },
        'mail written to the outbox folder (no SMTP_URL)',
      );
    },
    close: () => writer.close(),
  };
}
