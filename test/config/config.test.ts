// Configuration: development defaults, a clear message per bad variable, production checks,
// and `.env.example` kept in step with the schema.
import fs from 'node:fs';
import path from 'node:path';
import { configVariables, developmentSecrets, loadConfig, renderEnvExample } from '../../src/config/index.ts';
import { problemsOf } from '../support/config.ts';

const productionSecrets = {
  NODE_ENV: 'production',
  ISSUER: 'https://auth.example.com',
  COOKIE_KEYS: 'a-production-cookie-key-that-is-long-enough-1',
  KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64url'),
  HASH_PEPPER: 'a-production-pepper-that-is-long-enough-1234',
};

test('an empty environment gives a working development configuration', () => {
  const config = loadConfig({});
  expect(config).toMatchObject({
    production: false,
    port: 3000,
    issuer: 'http://localhost:3000',
    databaseUrl: 'file:./data/portcullis.db',
    signingKeyAlg: 'ES256',
  });
  expect(config.keyEncryptionKey).toHaveLength(32);
  expect(config.cookieKeys.length).toBeGreaterThan(0);
});

test('the issuer follows PORT and loses a trailing slash', () => {
  expect(loadConfig({ PORT: '4000' }).issuer).toBe('http://localhost:4000');
  expect(loadConfig({ ...productionSecrets, NODE_ENV: 'development', ISSUER: 'https://id.example.com/' }).issuer).toBe(
    'https://id.example.com',
  );
});

test.each([
  [{ PORT: 'eighty' }, 'PORT'],
  [{ PORT: '70000' }, 'PORT'],
  [{ ISSUER: 'not a url' }, 'ISSUER'],
  [{ ...productionSecrets, NODE_ENV: 'development', ISSUER: 'https://id.example.com/?tenant=1' }, 'ISSUER'],
  [{ DATABASE_URL: 'mysql://localhost/db' }, 'DATABASE_URL'],
  [{ COOKIE_KEYS: 'short' }, 'COOKIE_KEYS'],
  [{ KEY_ENCRYPTION_KEY: 'too-short' }, 'KEY_ENCRYPTION_KEY'],
  [{ HASH_PEPPER: 'short' }, 'HASH_PEPPER'],
  [{ SIGNING_KEY_ALG: 'HS256' }, 'SIGNING_KEY_ALG'],
  [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  [{ PURGE_INTERVAL_SECONDS: '3000000' }, 'PURGE_INTERVAL_SECONDS'],
  [{ KEYS_POLL_INTERVAL_SECONDS: '700', JWKS_MAX_AGE_SECONDS: '600' }, 'KEYS_POLL_INTERVAL_SECONDS'],
  [{ KEY_ROTATION_INTERVAL_SECONDS: '900' }, 'KEY_ROTATION_INTERVAL_SECONDS'],
  [{ TOKEN_RATE_LIMIT: '0/1m' }, 'TOKEN_RATE_LIMIT'],
  [{ TOKEN_RATE_LIMIT: '600/2d' }, 'TOKEN_RATE_LIMIT'],
  [{ TRUST_PROXY_HOPS: '-1' }, 'TRUST_PROXY_HOPS'],
  [{ SIGNUP: 'sometimes' }, 'SIGNUP'],
  [{ EMAIL_VERIFICATION: 'never' }, 'EMAIL_VERIFICATION'],
  [{ SMTP_URL: 'http://mail.example.com' }, 'SMTP_URL'],
  [{ BRAND_COLOR: 'blue' }, 'BRAND_COLOR'],
  [{ BRAND_COLOR: '#12345' }, 'BRAND_COLOR'],
  [{ BRAND_LOGO_URL: 'javascript:alert(1)' }, 'BRAND_LOGO_URL'],
  [{ BRAND_NAME: ' ' }, 'BRAND_NAME'],
])('%o is refused, naming %s', (env, variable) => {
  const problems = problemsOf(env);
  expect(Object.keys(problems)).toEqual([variable]);
  expect(problems[variable]).toMatch(/\w/);
});

test('sign-up is open in development and closed elsewhere unless SIGNUP says otherwise', () => {
  expect(loadConfig({}).signup).toBe('open');
  expect(loadConfig({ NODE_ENV: 'test' }).signup).toBe('closed');
  expect(loadConfig(productionSecrets).signup).toBe('closed');
  expect(loadConfig({ NODE_ENV: 'test', SIGNUP: 'invite' }).signup).toBe('invite');
  expect(loadConfig({}).emailVerification).toBe('required');
});

test.each(['open', 'invite'])('production refuses SIGNUP=%s without a mail server, and takes it with SMTP_URL', (signup) => {
  expect(problemsOf({ ...productionSecrets, SIGNUP: signup })).toEqual({ SMTP_URL: expect.stringMatching(/SIGNUP/) });
  const config = loadConfig({ ...productionSecrets, SIGNUP: signup, SMTP_URL: 'smtps://user:pass@mail.example.com:465' });
  expect(config.mail).toMatchObject({ smtpUrl: 'smtps://user:pass@mail.example.com:465', deliverable: true });
});

test('mail reaches people with SMTP_URL, or through the outbox folder outside production', () => {
  expect(loadConfig({}).mail).toMatchObject({ smtpUrl: undefined, deliverable: true, outboxDirectory: './data/outbox' });
  expect(loadConfig(productionSecrets).mail.deliverable).toBe(false);
});

test('the error message lists every bad variable', () => {
  expect(() => loadConfig({ PORT: 'x', LOG_LEVEL: 'y' })).toThrow(/PORT: .*\n.*LOG_LEVEL: /s);
});

test('production with its own secrets and an https issuer is accepted', () => {
  expect(loadConfig(productionSecrets).production).toBe(true);
});

test('production refuses an http issuer other than localhost', () => {
  expect(problemsOf({ ...productionSecrets, ISSUER: 'http://auth.example.com' })).toHaveProperty('ISSUER');
  expect(loadConfig({ ...productionSecrets, ISSUER: 'http://localhost:3000' }).issuer).toBe('http://localhost:3000');
});

test.each(Object.keys(developmentSecrets))('production refuses the built-in %s', (name) => {
  const env = { ...productionSecrets } as Record<string, string>;
  delete env[name];
  expect(Object.keys(problemsOf(env))).toEqual([name]);
});

test.each(Object.keys(developmentSecrets))('outside production, a non-loopback issuer refuses the built-in %s', (name) => {
  const env = { ...productionSecrets, NODE_ENV: 'development', ISSUER: 'https://id.example.com' } as Record<string, string>;
  delete env[name];
  expect(Object.keys(problemsOf(env))).toEqual([name]);
  expect(Object.keys(problemsOf({ ...env, NODE_ENV: 'test' }))).toEqual([name]);
});

test.each(['http://localhost:3000', 'http://127.0.0.1:4000', 'http://127.1.2.3', 'http://[::1]:3000', 'http://app.localhost'])(
  'the built-in secrets serve the loopback issuer %s, and say that they are in use',
  (issuer) => {
    const config = loadConfig({ ISSUER: issuer });
    expect(config.developmentSecretsInUse.sort()).toEqual(Object.keys(developmentSecrets).sort());
  },
);

test('a configuration with its own secrets uses none of the built-in ones', () => {
  expect(loadConfig({ ...productionSecrets, NODE_ENV: 'development' }).developmentSecretsInUse).toEqual([]);
});

test('production refuses a built-in cookie key even beside a new one', () => {
  const builtIn = developmentSecrets.COOKIE_KEYS.split(',')[0];
  expect(problemsOf({ ...productionSecrets, COOKIE_KEYS: `${productionSecrets.COOKIE_KEYS},${builtIn}` })).toHaveProperty('COOKIE_KEYS');
});

test('.env.example documents every variable, exactly as the schema renders it', () => {
  const file = fs.readFileSync(path.resolve(import.meta.dirname, '../../.env.example'), 'utf8');
  expect(file).toBe(renderEnvExample());
  for (const name of Object.keys(configVariables)) expect(file).toMatch(new RegExp(`^(# )?${name}=`, 'm'));
});
