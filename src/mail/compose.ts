// Writing a mail: its subject from the catalogue (`mail.TEMPLATE.subject`), its text and HTML
// from views/mail/TEMPLATE.text.eta and TEMPLATE.html.eta (the HTML inside mail-layout.html.eta,
// with the brand), in the person's language.
import type { Views } from '../templates/index.ts';
import type { Mail } from './transport.ts';

export interface ComposeInput {
  template: string;
  to: string;
  /** The person's language (en, de); English when unset. */
  lang?: string | null | undefined;
  /** What the templates show (links, names); the brand and `t` are added. */
  data?: Record<string, unknown>;
}

export function composeMail(views: Views, { template, to, lang, data = {} }: ComposeInput): Mail {
  const language = lang ?? undefined;
  const values = { ...data, ...(language ? { lang: language } : {}) };
  const t = views.catalogue.translator(language ?? 'en');
  const subject = t(`mail.${template}.subject`, { ...data, product: views.brand.name });
  return {
    to,
    purpose: template,
    subject,
    text: views.render(`mail/${template}.text.eta`, values),
    html: views.render(`mail/${template}.html.eta`, { ...values, subject }),
  };
}
