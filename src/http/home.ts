// `GET /`: what a person or a program finds at the issuer's own address, instead of "Not Found":
// a short page naming the issuer and where its discovery document is, or the same as JSON when
// the request prefers it (Accept).
import type Koa from 'koa';
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
  const html = views.render('home', links);
  return async function home(ctx, next) {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    ctx.vary('Accept');
    if (ctx.accepts('html', 'json') === 'json') ctx.body = json;
    else {
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = html;
    }
  };
}
