// Server-rendered pages: Eta templates from views/, HTML-escaped by default (`<%= %>`); the
// only raw output (`<%~ %>`) is the layout's body and oidc-provider's own logout form.
import path from 'node:path';
import { Eta } from 'eta';

export const viewsDirectory = path.resolve(import.meta.dirname, '../../views');

export type Views = ReturnType<typeof createViews>;

export function createViews(directory = viewsDirectory) {
  const eta = new Eta({ views: directory, autoEscape: true, cache: true, autoTrim: false });
  return {
    render(name: string, data: Record<string, unknown>): string {
      return eta.render(`./${name}`, data);
    },
  };
}
