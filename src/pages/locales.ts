// The language of the pages. They are written in English only; an authorization request's
// ui_locales (OpenID Connect Core section 3.1.2.1: the person's languages, most preferred first;
// an unsupported one is no error) chooses among English's tags, so `lang` always names the
// language the text is in (WCAG 2.2 success criterion 3.1.1).
const WRITTEN_IN = 'en';

/** A BCP 47 tag of English (`en`, `en-GB`, `en-Latn-US`), of bounded length. */
const ENGLISH_TAG = /^en(-[A-Za-z0-9]{1,8}){0,4}$/i;

/** The `lang` of a page shown for a request with these ui_locales. */
export function pageLanguage(uiLocales: unknown): string {
  if (typeof uiLocales !== 'string') return WRITTEN_IN;
  return uiLocales.split(' ').find((tag) => ENGLISH_TAG.test(tag)) ?? WRITTEN_IN;
}
