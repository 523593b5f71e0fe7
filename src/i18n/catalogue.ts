// The message catalogue: every string a page or a mail shows, in each language Portcullis
// ships, read once from views/locales/LANG/AREA.json. Each area's file is one namespace of keys
// (`login.json`'s `title` is `login.title`), so the pages of one area keep their words together.
// i18next does the lookups, interpolation and plurals (Intl.PluralRules); the templates escape
// what it returns, so it escapes nothing itself.
import fs from 'node:fs';
import path from 'node:path';
import i18next, { type TFunction } from 'i18next';

/** The languages shipped complete, English first (the fallback). */
export const SUPPORTED_LANGUAGES = ['en', 'de'] as const;
export type Language = (typeof SUPPORTED_LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = 'en';

export const localesDirectory = path.resolve(import.meta.dirname, '../../views/locales');

type Messages = Record<string, unknown>;

/** Every area's messages of one language, as one object keyed by area. */
export function readLanguage(language: string, directory = localesDirectory): Messages {
  const folder = path.join(directory, language);
  const messages: Messages = {};
  for (const file of fs
    .readdirSync(folder)
    .filter((name) => name.endsWith('.json'))
    .sort()) {
    messages[path.basename(file, '.json')] = JSON.parse(fs.readFileSync(path.join(folder, file), 'utf8')) as unknown;
  }
  return messages;
}

/** A function that looks a key up in one language (falling back to English for nothing: both are complete). */
export type Translate = TFunction;

export interface Catalogue {
  /** The lookup function of a language (an unsupported one gets English). */
  translator(language: string): Translate;
}

export function createCatalogue(directory = localesDirectory): Catalogue {
  const instance = i18next.createInstance();
  void instance.init({
    // Synchronous: the resources are here, nothing is fetched.
    initAsync: false,
    resources: Object.fromEntries(SUPPORTED_LANGUAGES.map((language) => [language, { translation: readLanguage(language, directory) }])),
    supportedLngs: [...SUPPORTED_LANGUAGES],
    fallbackLng: DEFAULT_LANGUAGE,
    interpolation: { escapeValue: false },
    // Keys are `area.name`; a colon in a key is no namespace.
    nsSeparator: false,
    returnNull: false,
  });
  const translators = new Map<string, Translate>(SUPPORTED_LANGUAGES.map((language) => [language, instance.getFixedT(language)]));
  return {
    translator(language) {
      return translators.get(language) ?? translators.get(DEFAULT_LANGUAGE)!;
    },
  };
}
