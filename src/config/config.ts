// Owns Portcullis's configuration: one schema that reads, checks and documents every
// environment variable. `.env.example` is checked against `configVariables` by a test.
import { z } from 'zod';
import { isRateLimit } from '../limits/index.ts';

/**
 * Secrets that ship with the code so that `npm start` works out of the box. They are public (they
 * are in this repository), so they are refused for any issuer that is not a loopback address, and
 * in production whatever the issuer; every start that uses them says so in its log.
 */
export const developmentSecrets = {
  COOKIE_KEYS: 'development-cookie-key-change-me-0001,development-cookie-key-change-me-0002',
  KEY_ENCRYPTION_KEY: 'ZGV2ZWxvcG1lbnQta2V5LWVuY3J5cHRpb24ta2V5ISE',
  HASH_PEPPER: 'development-pepper-change-me-in-production',
} as const;

const secondsSchema = (fallback: number, max = 365 * 24 * 3600) => z.coerce.number().int().min(1).max(max).default(fallback);

/** A rate such as 600/1m, checked by the same parser the limiters use. */
const rateSchema = (fallback: string) =>
  z.string().refine(isRateLimit, 'a rate such as 600/1m (at most one day per window)').default(fallback);

interface VariableSpec {
  description: string;
  schema: z.ZodType;
  /** The line written in `.env.example` (commented out when the default is fine). */
  example: string;
}

/** Every variable Portcullis reads, with what it means. Order is the order of `.env.example`. */
export const configVariables = {
  NODE_ENV: {
    description: '`production` turns on the production checks (https issuer, no built-in secrets).',
    schema: z.enum(['development', 'production', 'test']).default('development'),
    example: 'development',
  },
  PORT: {
    description: 'TCP port the HTTP server listens on (0 picks a free one).',
    schema: z.coerce.number().int().min(0).max(65535).default(3000),
    example: '3000',
  },
  HOST: {
    description: 'Address the HTTP server binds to.',
    schema: z.string().min(1).default('0.0.0.0'),
    example: '0.0.0.0',
  },
  ISSUER: {
    description: 'The issuer identifier: the public base URL of this server, without a trailing slash. Defaults to http://localhost:PORT.',
    schema: z.url().optional(),
    example: 'http://localhost:3000',
  },
  DATABASE_URL: {
    description: 'file:PATH for SQLite (the embedded default) or postgresql://USER:PASSWORD@HOST:PORT/DB for PostgreSQL.',
    schema: z
      .string()
      .regex(/^(file:|postgres(ql)?:\/\/)/, 'must start with file: or postgresql://')
      .default('file:./data/portcullis.db'),
    example: 'file:./data/portcullis.db',
  },
  COOKIE_KEYS: {
    description: 'Comma-separated keys that sign cookies, newest first (each at least 32 characters). Add a new key in front to rotate.',
    schema: z.string().default(developmentSecrets.COOKIE_KEYS),
    example: developmentSecrets.COOKIE_KEYS,
  },
  KEY_ENCRYPTION_KEY: {
    description:
      '32 random bytes, base64url (43 characters): encrypts signing keys at rest. Generate with: node -e "console.log(crypto.randomBytes(32).toString(\'base64url\'))"',
    schema: z.string().default(developmentSecrets.KEY_ENCRYPTION_KEY),
    example: developmentSecrets.KEY_ENCRYPTION_KEY,
  },
  HASH_PEPPER: {
    description:
      'Secret (at least 32 characters) keying the hashes of client secrets, API keys and stored token ids. Changing it invalidates all of them.',
    schema: z.string().default(developmentSecrets.HASH_PEPPER),
    example: developmentSecrets.HASH_PEPPER,
  },
  SIGNING_KEY_ALG: {
    description: 'Algorithm of signing keys Portcullis creates: ES256 (default) or RS256.',
    schema: z.enum(['ES256', 'RS256']).default('ES256'),
    example: 'ES256',
  },
  ACCESS_TOKEN_TTL_SECONDS: {
    description: 'Lifetime of access tokens for userinfo (tokens for an API live as long as that API says). 60 to 3600.',
    schema: z.coerce.number().int().min(60).max(3600).default(900),
    example: '900',
  },
  ID_TOKEN_TTL_SECONDS: {
    description: 'Lifetime of ID tokens. 60 to 86400.',
    schema: z.coerce.number().int().min(60).max(86_400).default(3600),
    example: '3600',
  },
  REFRESH_TOKEN_IDLE_SECONDS: {
    description: 'A refresh token unused this long expires (each rotation starts the clock again).',
    schema: z.coerce
      .number()
      .int()
      .min(60)
      .max(365 * 86_400)
      .default(14 * 86_400),
    example: '1209600',
  },
  REFRESH_TOKEN_ABSOLUTE_SECONDS: {
    description: 'No refresh token lives longer than this after the login that started its chain.',
    schema: z.coerce
      .number()
      .int()
      .min(60)
      .max(2 * 365 * 86_400)
      .default(90 * 86_400),
    example: '7776000',
  },
  JWKS_MAX_AGE_SECONDS: {
    description: 'How long verifiers may cache the JWKS (Cache-Control max-age). A new key is published this long before it signs.',
    schema: secondsSchema(600, 24 * 3600),
    example: '600',
  },
  KEYS_POLL_INTERVAL_SECONDS: {
    description: 'How often each instance checks the database for rotated signing keys and swaps them in.',
    schema: secondsSchema(5, 3600),
    example: '5',
  },
  KEY_ROTATION_INTERVAL_SECONDS: {
    description: 'Rotate signing keys on this schedule (0 turns it off). Defaults to 30 days in production and off otherwise.',
    schema: z.coerce
      .number()
      .int()
      .min(0)
      .max(10 * 365 * 24 * 3600)
      .optional(),
    example: '0',
  },
  API_KEY_PREFIX: {
    description:
      'Prefix of the API keys this server issues and accepts, e.g. pcl_live or pcl_test. Defaults to pcl_live in production and pcl_test otherwise.',
    schema: z
      .string()
      .regex(/^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/, 'lower-case letters and digits, in parts joined by _')
      .max(32)
      .optional(),
    example: 'pcl_test',
  },
  REDIS_URL: {
    description: 'redis://HOST:PORT: share rate-limit counters between instances. Without it each instance counts alone.',
    schema: z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .optional(),
    example: '',
  },
  TRUST_PROXY_HOPS: {
    description:
      'How many reverse proxies in front of Portcullis to trust for X-Forwarded-For/-Proto/-Host (0: none, the default). Set it to the number of proxies you run, never more.',
    schema: z.coerce.number().int().min(0).max(10).default(0),
    example: '0',
  },
  TOKEN_RATE_LIMIT: {
    description:
      'Token endpoint requests allowed per authenticated client, e.g. 600/1m. Counted after the client has authenticated, so nobody else can spend it.',
    schema: rateSchema('600/1m'),
    example: '600/1m',
  },
  CLIENT_AUTH_FAILURE_LIMIT: {
    description:
      "Failed client authentications (and requests that never authenticate) allowed per source address at the token, introspection and revocation endpoints, e.g. 30/1m. Counted apart from every client's own limit.",
    schema: rateSchema('30/1m'),
    example: '30/1m',
  },
  INTROSPECTION_RATE_LIMIT: {
    description: 'Introspection requests allowed per authenticated calling client (resource server), e.g. 6000/1m.',
    schema: rateSchema('6000/1m'),
    example: '6000/1m',
  },
  LOGIN_MAX_FAILURES: {
    description:
      'Password checks allowed per account from one network (IPv4 /24, IPv6 /64) in 15 minutes before that account is locked for that network for a while.',
    schema: z.coerce.number().int().min(1).max(1000).default(5),
    example: '5',
  },
  LOGIN_ACCOUNT_MAX_FAILURES: {
    description:
      'Failed logins allowed per account from all networks together in a day; past it no password is checked for the account until the day is over. The slow, global bound on guessing one account.',
    schema: z.coerce.number().int().min(1).max(100_000).default(100),
    example: '100',
  },
  LOGIN_IP_MAX_FAILURES: {
    description:
      'Failed logins allowed per source address (all accounts together) in 15 minutes: bounds the password-hashing work one address can cause.',
    schema: z.coerce.number().int().min(1).max(100_000).default(30),
    example: '30',
  },
  LOGIN_LOCK_SECONDS: {
    description: "The first lock's length after too many failed logins; each further lock the same day doubles it (up to a day).",
    schema: z.coerce.number().int().min(1).max(86_400).default(60),
    example: '60',
  },
  USER_API_KEY_DEFAULT_DAYS: {
    description: 'Lifetime, in days, of an API key a person makes for themselves when they do not choose one.',
    schema: z.coerce.number().int().min(1).max(3650).default(90),
    example: '90',
  },
  USER_API_KEY_MAX_DAYS: {
    description: 'The longest, in days, an API key owned by a person may live (keys of people always expire).',
    schema: z.coerce.number().int().min(1).max(3650).default(365),
    example: '365',
  },
  RECENT_SIGN_IN_SECONDS: {
    description:
      'Creating or rotating an API key on the developer page needs a sign-in at most this old, or the password again (sudo mode).',
    schema: z.coerce.number().int().min(1).max(86_400).default(600),
    example: '600',
  },
  AUDIT_RETENTION_DAYS: {
    description: 'Audit events older than this many days are deleted.',
    schema: z.coerce.number().int().min(1).max(3650).default(365),
    example: '365',
  },
  PURGE_INTERVAL_SECONDS: {
    description: 'How often expired tokens, sessions and other artifacts are deleted from the database.',
    schema: secondsSchema(600, 2_147_483),
    example: '600',
  },
  SQLITE_SYNCHRONOUS: {
    description:
      "SQLite only: `normal` (the default, and better-sqlite3's own for WAL) syncs the write-ahead log to disk at checkpoints, `full` at every commit. Either survives a crash of the process; after a power loss or OS crash `normal` may lose the last commits (never corrupts); `full` makes every write slower.",
    schema: z.enum(['normal', 'full']).default('normal'),
    example: 'normal',
  },
  LOG_LEVEL: {
    description: 'Log level: fatal, error, warn, info, debug, trace or silent.',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    example: 'info',
  },
} satisfies Record<string, VariableSpec>;

export type VariableName = keyof typeof configVariables;

export interface Config {
  production: boolean;
  port: number;
  host: string;
  issuer: string;
  databaseUrl: string;
  cookieKeys: string[];
  keyEncryptionKey: Uint8Array;
  hashPepper: string;
  signingKeyAlg: 'ES256' | 'RS256';
  lifetimes: { accessToken: number; idToken: number; refreshTokenIdle: number; refreshTokenAbsolute: number };
  jwksMaxAgeSeconds: number;
  keysPollIntervalSeconds: number;
  keyRotationIntervalSeconds: number;
  apiKeyPrefix: string;
  redisUrl: string | undefined;
  login: { maxFailures: number; accountMaxFailures: number; ipMaxFailures: number; lockSeconds: number };
  trustProxyHops: number;
  tokenRateLimit: string;
  clientAuthFailureLimit: string;
  introspectionRateLimit: string;
  userApiKeyDays: { default: number; max: number };
  recentSignInSeconds: number;
  /** The names of the built-in development secrets this configuration uses (warned about at start). */
  developmentSecretsInUse: string[];
  auditRetentionDays: number;
  purgeIntervalSeconds: number;
  logLevel: string;
  sqliteSynchronous: 'normal' | 'full';
}

/** Thrown when the environment does not describe a valid configuration. Lists every problem. */
export class ConfigError extends Error {
  readonly problems: { variable: string; message: string }[];
  constructor(problems: { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const localHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/** A loopback issuer is reachable only from this machine: localhost, 127.0.0.0/8 or [::1]. */
export function isLoopbackHost(hostname: string): boolean {
  return localHosts.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname) || hostname.endsWith('.localhost');
}

/** Reads the configuration from `env`. Throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: { variable: string; message: string }[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(configVariables) as [VariableName, VariableSpec][]) {
    const raw = env[name] === '' ? undefined : env[name];
    const result = spec.schema.safeParse(raw);
    if (result.success) values[name] = result.data;
    else problems.push({ variable: name, message: result.error.issues.map((issue) => issue.message).join('; ') });
  }
  if (problems.length) throw new ConfigError(problems);

  const production = values.NODE_ENV === 'production';
  const port = values.PORT as number;
  const issuer = ((values.ISSUER as string | undefined) ?? `http://localhost:${port}`).replace(/\/+$/, '');
  const issuerUrl = new URL(issuer);
  if (!['http:', 'https:'].includes(issuerUrl.protocol)) {
    problems.push({ variable: 'ISSUER', message: 'must be an http: or https: URL' });
  }
  if (issuerUrl.search || issuerUrl.hash) {
    problems.push({ variable: 'ISSUER', message: 'must not have a query or fragment (RFC 8414 section 2)' });
  }
  if (production && issuerUrl.protocol === 'http:' && !localHosts.has(issuerUrl.hostname)) {
    problems.push({ variable: 'ISSUER', message: 'must be https: in production (http: is allowed only for localhost)' });
  }

  const cookieKeys = (values.COOKIE_KEYS as string)
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
  if (cookieKeys.length === 0 || cookieKeys.some((key) => key.length < 32)) {
    problems.push({ variable: 'COOKIE_KEYS', message: 'needs one or more comma-separated keys of at least 32 characters each' });
  }
  const keyEncryptionKey = Buffer.from(values.KEY_ENCRYPTION_KEY as string, 'base64url');
  if (keyEncryptionKey.length !== 32 || !/^[A-Za-z0-9_-]{43}$/.test(values.KEY_ENCRYPTION_KEY as string)) {
    problems.push({ variable: 'KEY_ENCRYPTION_KEY', message: 'must be 32 bytes encoded as base64url (43 characters)' });
  }
  const hashPepper = values.HASH_PEPPER as string;
  if (hashPepper.length < 32) {
    problems.push({ variable: 'HASH_PEPPER', message: 'must be at least 32 characters' });
  }
  // The built-in secrets are published with the code: anyone with a database dump could decrypt
  // the signing keys and forge tokens with them. Only an issuer nobody else can reach may use them.
  const developmentSecretsInUse: string[] = [];
  for (const name of Object.keys(developmentSecrets) as (keyof typeof developmentSecrets)[]) {
    const value = values[name] as string;
    const builtIn = developmentSecrets[name].split(',');
    if (value.split(',').some((part) => builtIn.includes(part.trim()))) developmentSecretsInUse.push(name);
  }
  const loopbackIssuer = isLoopbackHost(issuerUrl.hostname);
  for (const name of developmentSecretsInUse) {
    if (production) problems.push({ variable: name, message: 'is a built-in development secret; set your own in production' });
    else if (!loopbackIssuer)
      problems.push({
        variable: name,
        message: `is a built-in development secret, which only a loopback issuer may use (ISSUER is ${issuerUrl.host}); set your own`,
      });
  }
  if ((values.USER_API_KEY_DEFAULT_DAYS as number) > (values.USER_API_KEY_MAX_DAYS as number)) {
    problems.push({ variable: 'USER_API_KEY_DEFAULT_DAYS', message: 'must not exceed USER_API_KEY_MAX_DAYS' });
  }
  if ((values.KEYS_POLL_INTERVAL_SECONDS as number) > (values.JWKS_MAX_AGE_SECONDS as number)) {
    problems.push({
      variable: 'KEYS_POLL_INTERVAL_SECONDS',
      message: 'must not exceed JWKS_MAX_AGE_SECONDS: instances must see a new key before verifiers need it',
    });
  }
  if ((values.REFRESH_TOKEN_IDLE_SECONDS as number) > (values.REFRESH_TOKEN_ABSOLUTE_SECONDS as number)) {
    problems.push({ variable: 'REFRESH_TOKEN_IDLE_SECONDS', message: 'must not exceed REFRESH_TOKEN_ABSOLUTE_SECONDS' });
  }
  const rotation = values.KEY_ROTATION_INTERVAL_SECONDS as number | undefined;
  if (rotation && rotation < 2 * (values.JWKS_MAX_AGE_SECONDS as number)) {
    problems.push({
      variable: 'KEY_ROTATION_INTERVAL_SECONDS',
      message: 'must be 0 or at least twice JWKS_MAX_AGE_SECONDS, so each next key is published long enough',
    });
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    production,
    port,
    host: values.HOST as string,
    issuer,
    databaseUrl: values.DATABASE_URL as string,
    cookieKeys,
    keyEncryptionKey: new Uint8Array(keyEncryptionKey),
    hashPepper,
    signingKeyAlg: values.SIGNING_KEY_ALG as Config['signingKeyAlg'],
    lifetimes: {
      accessToken: values.ACCESS_TOKEN_TTL_SECONDS as number,
      idToken: values.ID_TOKEN_TTL_SECONDS as number,
      refreshTokenIdle: values.REFRESH_TOKEN_IDLE_SECONDS as number,
      refreshTokenAbsolute: values.REFRESH_TOKEN_ABSOLUTE_SECONDS as number,
    },
    jwksMaxAgeSeconds: values.JWKS_MAX_AGE_SECONDS as number,
    keysPollIntervalSeconds: values.KEYS_POLL_INTERVAL_SECONDS as number,
    keyRotationIntervalSeconds: (values.KEY_ROTATION_INTERVAL_SECONDS as number | undefined) ?? (production ? 30 * 24 * 3600 : 0),
    apiKeyPrefix: (values.API_KEY_PREFIX as string | undefined) ?? (production ? 'pcl_live' : 'pcl_test'),
    redisUrl: values.REDIS_URL as string | undefined,
    login: {
      maxFailures: values.LOGIN_MAX_FAILURES as number,
      accountMaxFailures: values.LOGIN_ACCOUNT_MAX_FAILURES as number,
      ipMaxFailures: values.LOGIN_IP_MAX_FAILURES as number,
      lockSeconds: values.LOGIN_LOCK_SECONDS as number,
    },
    trustProxyHops: values.TRUST_PROXY_HOPS as number,
    tokenRateLimit: values.TOKEN_RATE_LIMIT as string,
    clientAuthFailureLimit: values.CLIENT_AUTH_FAILURE_LIMIT as string,
    introspectionRateLimit: values.INTROSPECTION_RATE_LIMIT as string,
    userApiKeyDays: { default: values.USER_API_KEY_DEFAULT_DAYS as number, max: values.USER_API_KEY_MAX_DAYS as number },
    recentSignInSeconds: values.RECENT_SIGN_IN_SECONDS as number,
    developmentSecretsInUse,
    auditRetentionDays: values.AUDIT_RETENTION_DAYS as number,
    purgeIntervalSeconds: values.PURGE_INTERVAL_SECONDS as number,
    logLevel: values.LOG_LEVEL as string,
    sqliteSynchronous: values.SQLITE_SYNCHRONOUS as Config['sqliteSynchronous'],
  };
}

/** The text of `.env.example`, made from the schema so the two cannot drift apart. */
export function renderEnvExample(): string {
  const lines = [
    '# Portcullis configuration. Every variable is optional in development.',
    '# Written from src/config/config.ts (npm run env:example); a test checks they agree.',
    '',
  ];
  for (const [name, spec] of Object.entries(configVariables) as [VariableName, VariableSpec][]) {
    lines.push(`# ${spec.description}`, spec.example ? `${name}=${spec.example}` : `# ${name}=`, '');
  }
  return lines.join('\n');
}
