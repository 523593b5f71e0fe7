// `GET /`: what a person or a program finds at the issuer's own address, instead of "Not Found":
// a short page naming the issuer and where its discovery document is (in each shipped language,
// chosen by Accept-Language), or the same as JSON when the request prefers it (Accept).
import type Koa from 'koa';
import { negotiateLanguage, SUPPORTED_LANGUAGES } from '../i18n/index.ts';
import type { Views } from '../templates/index.ts';

export function homeRoute(issuer: string, views: Views): Koa.Middleware {
  const links = {
    issuer,
    discovery: `${issuer}/.well-known/openid-configuration`,
    jwks: `${issuer}/jwks`,
    account: `${issuer}/account`,
  };
  const json = {
    issuer,
    openid_configuration: links.discovery,
    oauth_authorization_server: `${issuer}/.well-known/oauth-authorization-server`,
    jwks_uri: links.jwks,
  };
  // Rendered once per language at start: the page changes only with the configuration.
  const pages = new Map<string, string>(SUPPORTED_LANGUAGES.map((lang) => [lang, views.render('home', { ...links, lang })]));
  return async function home(ctx, next) {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    ctx.vary('Accept');
    if (ctx.accepts('html', 'json') === 'json') ctx.body = json;
    else {
      ctx.vary('Accept-Language');
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = pages.get(negotiateLanguage({ acceptLanguage: ctx.get('accept-language') }));
    }
  };
}
