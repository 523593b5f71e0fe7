// What the account-flow tests share: a Portcullis with sign-up open that sends its mail over
// SMTP to a real SMTP server the test started, and a person's steps through the pages (each
// form submitted with the CSRF token of the page it is on, every redirect followed).
import { csrfFrom, UserAgent, type Step } from '../support/browser.ts';
import { startMailServer, type MailServer } from '../support/mail.ts';
import { startServer, type RunningServer } from '../support/server.ts';

export interface World {
  running: RunningServer;
  mail: MailServer;
  stop(): Promise<void>;
}

/** A server (sign-up open unless `env` says otherwise) and the SMTP server its mail goes to. */
export async function startWorld(env: Record<string, string> = {}): Promise<World> {
  const mail = await startMailServer();
  // A trusted proxy header lets a test speak from several sources (the per-source mail limits).
  const running = await startServer({ SIGNUP: 'open', SMTP_URL: mail.url, TRUST_PROXY_HOPS: '1', ...env });
  return {
    running,
    mail,
    async stop() {
      await running.stop();
      await mail.close();
    },
  };
}

/** A browser with its own client address (X-Forwarded-For) and language. */
export class Person extends UserAgent {
  constructor(
    readonly base: string,
    readonly ip = `198.51.100.${Math.floor(Math.random() * 250) + 1}`,
    readonly language = 'en',
  ) {
    super();
  }

  override request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}) {
    return super.request(new URL(url, this.base).toString(), {
      ...init,
      headers: { 'x-forwarded-for': this.ip, 'accept-language': this.language, ...init.headers },
    });
  }

  /** Opens `url` and follows its redirects to a page. */
  open(url: string): Promise<Step> {
    return this.follow(new URL(url, this.base).toString());
  }

  /** Submits the form of `page` whose action is `action`, with its CSRF token and `fields`; follows the 303. */
  async submit(page: Step, action: string, fields: Record<string, string>): Promise<{ post: Step; page: Step }> {
    if (!page.body.includes(`action="${action}"`)) throw new Error(`no form to ${action} on ${page.url}:\n${page.body.slice(0, 1500)}`);
    const post = await this.request(action, { form: { csrf: csrfFrom(page.body), ...fields } });
    const next = post.location ? await this.open(post.location) : post;
    return { post, page: next };
  }
}

/** The hidden field `name` of a page's form. */
export function hiddenField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no field ${name}`);
  return match[1]!;
}

/** Text of a page without its tags, entities decoded enough for reading. */
export function textOf(html: string): string {
  return html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

export const STRONG_PASSWORD = 'a walk along the river Wear';
