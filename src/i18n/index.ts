// The people's language: the message catalogue (views/locales), choosing a language for a
// request, and dates formatted for it.
export {
  createCatalogue,
  DEFAULT_LANGUAGE,
  readLanguage,
  SUPPORTED_LANGUAGES,
  type Catalogue,
  type Language,
  type Translate,
} from './catalogue.ts';
export { formatDate, formatDateTime } from './format.ts';
export { languageOf, negotiateLanguage } from './negotiate.ts';
