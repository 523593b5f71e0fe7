// The pages' templates and static files (views/): every room that renders a page uses these.
export { staticAsset, textAsset, webauthnBrowserAsset } from './assets.ts';
export { contrastRatio, createBrand, type Brand } from './brand.ts';
export { createViews, viewsDirectory, type Views } from './views.ts';
