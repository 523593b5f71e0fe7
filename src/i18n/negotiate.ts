// Which language a page or a mail is in: the first of the person's wishes Portcullis ships.
// OpenID Connect's ui_locales (Core section 3.1.2.1: space-separated BCP 47 tags, in order of
// preference) comes first; then the browser's Accept-Language (RFC 9110 section 12.5.4, with
// q-values); then English. A tag matches by its primary language (`de-AT` is German).
import Negotiator from 'negotiator';
import { DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, type Language } from './catalogue.ts';

const TAG = /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8}){0,8}$/;

/** The shipped language a BCP 47 tag asks for, if any. */
export function languageOf(tag: string): Language | undefined {
  if (!TAG.test(tag)) return undefined;
  const primary = tag.split('-')[0]!.toLowerCase();
  return SUPPORTED_LANGUAGES.find((language) => language === primary);
}

/** The shipped language Accept-Language prefers (RFC 9110 section 12.5.4: q-values, then order), by negotiator, as Koa's own ctx.acceptsLanguages. */
function acceptedLanguage(header: string | undefined): Language | undefined {
  if (!header) return undefined;
  // negotiator matches a tag's primary language too (de-AT is German), and drops q=0.
  const best = new Negotiator({ headers: { 'accept-language': header.slice(0, 1000) } }).language([...SUPPORTED_LANGUAGES]);
  return SUPPORTED_LANGUAGES.find((language) => language === best);
}

/** The language for a request: ui_locales, then Accept-Language, then English. */
export function negotiateLanguage({ uiLocales, acceptLanguage }: { uiLocales?: unknown; acceptLanguage?: string | undefined }): Language {
  for (const wish of typeof uiLocales === 'string' ? uiLocales.slice(0, 500).split(' ') : []) {
    const language = languageOf(wish);
    if (language) return language;
  }
  return acceptedLanguage(acceptLanguage) ?? DEFAULT_LANGUAGE;
}
