// The pages' templates and static files (views/): every room that renders a page uses these.
export { staticAsset } from './assets.ts';
export { createViews, viewsDirectory, type Views } from './views.ts';
