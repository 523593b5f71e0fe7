// The message catalogue (views/locales) is complete in every shipped language, every key the
// pages and the code use exists, the language is chosen as OpenID Connect and HTTP say
// (ui_locales, then Accept-Language with its q-values, then English), and dates are written for
// the reader (Intl), never as ISO timestamps.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  createCatalogue,
  formatDate,
  formatDateTime,
  languageOf,
  negotiateLanguage,
  readLanguage,
  SUPPORTED_LANGUAGES,
} from '../../src/i18n/index.ts';
import { createViews } from '../../src/templates/index.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** Every leaf of a nested message object, as dotted keys with their text. */
function leaves(messages: Record<string, unknown>, prefix = ''): Map<string, string> {
  const found = new Map<string, string>();
  for (const [key, value] of Object.entries(messages)) {
    const dotted = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === 'object') for (const [k, v] of leaves(value as Record<string, unknown>, dotted)) found.set(k, v);
    else found.set(dotted, String(value));
  }
  return found;
}

function filesUnder(directory: string, suffix: string): string[] {
  return fs
    .readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(suffix))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/**
 * Keys written literally in the code and the templates: every quoted string that starts with an
 * area of the catalogue and a dot (`'errors.csrf'`, a `t('consent.allow')`, a map of keys like the
 * device flow's), except an audit event's type (`type: 'consent.given'`), which shares the
 * spelling. A string followed by `+` is the start of a key made at run time (`'reset.problem_' +
 * reason`), not a key itself.
 */
function keysUsedIn(source: string, areas: string[]): string[] {
  const pattern = new RegExp(`(?<!type:\\s*)'((?:${areas.join('|')})\\.[\\w-]+(?:\\.[\\w-]+)*)'(?!\\s*\\+)`, 'g');
  return [...source.matchAll(pattern)].map((match) => match[1]!);
}

const languages = Object.fromEntries(SUPPORTED_LANGUAGES.map((language) => [language, leaves(readLanguage(language))]));
const english = languages.en!;

/** A single word may be the same in both languages ("Name", "Code", "Scopes"); a sentence may not. */
const oneWord = (text: string) => !/\s/.test(text.trim());

describe('the catalogue', () => {
  test('English and German have exactly the same keys, area by area', () => {
    const areas = (language: string) => fs.readdirSync(path.join(root, 'views/locales', language)).sort();
    expect(areas('de')).toEqual(areas('en'));
    expect([...languages.de!.keys()].sort()).toEqual([...english.keys()].sort());
    expect(english.size).toBeGreaterThan(50);
  });

  test('no message is empty, and every one keeps the placeholders of its English original', () => {
    const placeholders = (text: string) => [...text.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((match) => match[1]).sort();
    for (const [language, messages] of Object.entries(languages)) {
      for (const [key, text] of messages) {
        expect({ language, key, empty: text.trim() === '' }).toEqual({ language, key, empty: false });
        expect({ language, key, placeholders: placeholders(text) }).toEqual({
          language,
          key,
          placeholders: placeholders(english.get(key)!),
        });
      }
    }
  });

  test('the German is written out, not copied from the English', () => {
    const copied = [...english].filter(([key, text]) => languages.de!.get(key) === text && !oneWord(text));
    expect(copied.map(([key]) => key)).toEqual([]);
    expect(oneWord('Name')).toBe(true);
    expect(oneWord('Sign in')).toBe(false);
  });

  test('every key the templates and the code look up exists in English (a plural by its _one and _other forms)', () => {
    const sources = [...filesUnder(path.join(root, 'views'), '.eta'), ...filesUnder(path.join(root, 'src'), '.ts')];
    const used = new Map<string, string>();
    const areas = Object.keys(readLanguage('en'));
    for (const file of sources)
      for (const key of keysUsedIn(fs.readFileSync(file, 'utf8'), areas)) used.set(key, path.relative(root, file));
    // The scan finds what the pages use: it cannot pass by finding nothing.
    expect(used.get('errors.csrf')).toBe('src/pages/csrf.ts');
    expect(used.get('consent.allow')).toBe('views/consent.eta');
    expect(used.get('device.not_found')).toBe('src/oidc/deviceFlow.ts');
    expect(keysUsedIn(`type: 'consent.given', t('consent.allow'), 'reset.problem_' + why`, ['consent', 'reset'])).toEqual([
      'consent.allow',
    ]);
    const missing = [...used].filter(([key]) => !english.has(key) && !(english.has(`${key}_one`) && english.has(`${key}_other`)));
    expect(missing.map(([key, file]) => `${key} (${file})`)).toEqual([]);
  });

  test('lookups interpolate and choose the plural form of each language', () => {
    const catalogue = createCatalogue();
    expect(catalogue.translator('en')('device.too_many', { count: 1 })).toBe(
      'Too many wrong codes from your network. Try again in 1 minute.',
    );
    expect(catalogue.translator('en')('device.too_many', { count: 5 })).toBe(
      'Too many wrong codes from your network. Try again in 5 minutes.',
    );
    expect(catalogue.translator('de')('device.too_many', { count: 1 })).toContain('in 1 Minute erneut');
    expect(catalogue.translator('de')('device.too_many', { count: 5 })).toContain('in 5 Minuten erneut');
    expect(catalogue.translator('de')('consent.heading', { client: 'Notizen' })).toBe('Notizen Zugriff erlauben?');
    // A language Portcullis does not ship gets English.
    expect(catalogue.translator('fr')('consent.allow')).toBe('Allow');
  });
});

describe('choosing the language', () => {
  test('ui_locales comes first, in its own order, and its first shipped language wins', () => {
    expect(negotiateLanguage({ uiLocales: 'de', acceptLanguage: 'en' })).toBe('de');
    expect(negotiateLanguage({ uiLocales: 'fr-CA de-AT en', acceptLanguage: 'en' })).toBe('de');
    expect(negotiateLanguage({ uiLocales: 'en-GB de', acceptLanguage: 'de' })).toBe('en');
  });

  test('without a shipped ui_locales, Accept-Language decides by its q-values, then by order', () => {
    expect(negotiateLanguage({ uiLocales: 'fr ja', acceptLanguage: 'de' })).toBe('de');
    expect(negotiateLanguage({ acceptLanguage: 'fr;q=1, en;q=0.5, de;q=0.8' })).toBe('de');
    expect(negotiateLanguage({ acceptLanguage: 'en;q=0.3, de-CH;q=0.9' })).toBe('de');
    expect(negotiateLanguage({ acceptLanguage: 'de;q=0, en;q=0.1' })).toBe('en');
    expect(negotiateLanguage({ acceptLanguage: 'de, en' })).toBe('de');
    expect(negotiateLanguage({ acceptLanguage: 'en, de' })).toBe('en');
    expect(negotiateLanguage({ acceptLanguage: 'en;q=0.2, de;q=0.9, fr' })).toBe('de');
  });

  test('nothing usable, or something malformed, is English', () => {
    expect(negotiateLanguage({})).toBe('en');
    expect(negotiateLanguage({ uiLocales: 42, acceptLanguage: '' })).toBe('en');
    expect(negotiateLanguage({ acceptLanguage: 'fr, ja;q=0.5' })).toBe('en');
    expect(negotiateLanguage({ acceptLanguage: '*' })).toBe('en');
    expect(negotiateLanguage({ uiLocales: 'd<e>', acceptLanguage: 'de;q=banana' })).toBe('en');
    expect(languageOf('de_DE')).toBeUndefined();
    expect(languageOf('DE-at')).toBe('de');
  });
});

describe('dates', () => {
  const moment = new Date('2026-12-02T21:40:00Z');

  test('are written for the language, in UTC, never as ISO', () => {
    expect(formatDate(moment, 'en')).toBe('Dec 2, 2026');
    expect(formatDate(moment, 'de')).toBe('02.12.2026');
    expect(formatDateTime(moment, 'de')).toMatch(/2026.*21:40.*UTC/);
    expect(formatDateTime(moment, 'en')).toMatch(/Dec 2, 2026.*9:40.*PM.*UTC/);
    expect(formatDateTime(moment.toISOString(), 'de')).toBe(formatDateTime(moment, 'de'));
  });

  test("a template's it.date and it.dateTime use the page's language", () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-views-'));
    try {
      fs.writeFileSync(path.join(directory, 'when.eta'), '<%= it.date(it.at) %>|<%= it.dateTime(it.at) %>|<%= it.t("consent.allow") %>');
      const views = createViews({ directory });
      expect(views.render('when', { at: moment, lang: 'de' })).toBe(`02.12.2026|${formatDateTime(moment, 'de')}|Erlauben`);
      expect(views.render('when', { at: moment, lang: 'en' })).toBe(`Dec 2, 2026|${formatDateTime(moment, 'en')}|Allow`);
      expect(views.render('when', { at: moment })).toContain('|Allow');
    } finally {
      fs.rmSync(directory, { recursive: true, force: true });
    }
  });
});
