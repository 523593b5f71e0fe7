// Server-rendered pages and mails: Eta templates from views/, HTML-escaped by default
// (`<%= %>`); the only raw output (`<%~ %>`) is the layout's body and oidc-provider's own logout
// form. Every template gets, besides its own data: `t` (the message catalogue in the page's
// language, `it.lang`), `brand` (the operator's name and logo), and `date` / `dateTime`
// (Intl, in that language).
import path from 'node:path';
import { Eta } from 'eta';
import { createCatalogue, DEFAULT_LANGUAGE, formatDate, formatDateTime, type Catalogue } from '../i18n/index.ts';
import { createBrand, type Brand } from './brand.ts';

export const viewsDirectory = path.resolve(import.meta.dirname, '../../views');

export type Views = ReturnType<typeof createViews>;

export interface ViewsOptions {
  directory?: string;
  brand?: Brand;
  catalogue?: Catalogue;
}

export function createViews({
  directory = viewsDirectory,
  brand = createBrand({ name: 'Portcullis' }),
  catalogue = createCatalogue(),
}: ViewsOptions = {}) {
  const eta = new Eta({ views: directory, autoEscape: true, cache: true, autoTrim: false });
  return {
    brand,
    catalogue,
    /** Renders `name` in `data.lang` (English when unset or not shipped). */
    render(name: string, data: Record<string, unknown> & { lang?: string }): string {
      const lang = typeof data.lang === 'string' ? data.lang : DEFAULT_LANGUAGE;
      return eta.render(`./${name}`, {
        ...data,
        lang,
        brand,
        t: catalogue.translator(lang),
        date: (value: Date | string | number) => formatDate(value, lang),
        dateTime: (value: Date | string | number) => formatDateTime(value, lang),
      });
    },
  };
}
