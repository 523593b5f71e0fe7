// Which language a page or a mail is in: the first of the person's wishes Portcullis ships.
// OpenID Connect's ui_locales (Core section 3.1.2.1: space-separated BCP 47 tags, in order of
// preference) comes first; then the browser's Accept-Language (RFC 9110 section 12.5.4, with
// q-values); then English. A tag matches by its primary language (`de-AT` is German).
import { DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, type Language } from './catalogue.ts';

const TAG = /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8}){0,8}$/;

/** The shipped language a BCP 47 tag asks for, if any. */
export function languageOf(tag: string): Language | undefined {
  if (!TAG.test(tag)) return undefined;
  const primary = tag.split('-')[0]!.toLowerCase();
  return SUPPORTED_LANGUAGES.find((language) => language === primary);
}

/** Accept-Language's tags, best first (q=0 means "not this one"); at most 20 are read. */
export function acceptedTags(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .slice(0, 1000)
    .split(',')
    .slice(0, 20)
    .map((part, index) => {
      const [tag = '', ...parameters] = part.trim().split(';');
      const q = parameters.map((p) => /^\s*q=([01](\.\d{0,3})?)\s*$/.exec(p)?.[1]).find(Boolean);
      return { tag: tag.trim(), q: q === undefined ? 1 : Number(q), index };
    })
    .filter(({ tag, q }) => tag && q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map(({ tag }) => tag);
}

/** The language for a request: ui_locales, then Accept-Language, then English. */
export function negotiateLanguage({ uiLocales, acceptLanguage }: { uiLocales?: unknown; acceptLanguage?: string | undefined }): Language {
  const wishes = [...(typeof uiLocales === 'string' ? uiLocales.slice(0, 500).split(' ') : []), ...acceptedTags(acceptLanguage)];
  for (const wish of wishes) {
    if (wish === '*') return DEFAULT_LANGUAGE;
    const language = languageOf(wish);
    if (language) return language;
  }
  return DEFAULT_LANGUAGE;
}
