// Owns Portcullis's configuration: one schema that reads, checks and documents every
// environment variable. `.env.example` is checked against `configVariables` by a test.
import fs from 'node:fs';
import os from 'node:os';
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

/** What `.env.example` says about a variable. */
interface VariableDoc {
  description: string;
  /** The line written in `.env.example` (commented out when the default is fine). */
  example: string;
  /** A secret: it may also be read from the file `NAME_FILE` names (as Docker and Kubernetes mount secrets). */
  secret?: boolean;
}

/** Each variable's documentation, kept beside its schema (zod's registries are made for this). */
const documentation = z.registry<VariableDoc>();

/**
 * Documents a variable and returns its schema unchanged, so `configVariables` is an object of
 * schemas with their precise types and `z.object(configVariables)` parses the whole environment
 * into a typed value.
 */
function variable<S extends z.ZodType>({ schema, ...doc }: VariableDoc & { schema: S }): S {
  documentation.add(schema, doc);
  return schema;
}

/** Every variable Portcullis reads, with what it means. Order is the order of `.env.example`. */
export const configVariables = {
  NODE_ENV: variable({
    description: '`production` turns on the production checks (https issuer, no built-in secrets).',
    schema: z.enum(['development', 'production', 'test']).default('development'),
    example: 'development',
  }),
  PORT: variable({
    description: 'TCP port the HTTP server listens on (0 picks a free one).',
    schema: z.coerce.number().int().min(0).max(65535).default(3000),
    example: '3000',
  }),
  HOST: variable({
    description: 'Address the HTTP server binds to.',
    schema: z.string().min(1).default('0.0.0.0'),
    example: '0.0.0.0',
  }),
  WORKERS: variable({
    description:
      'Worker processes serving the port together (node:cluster), each a whole server on the same database: a number, or `auto` for one per available core. Defaults to auto in production and 1 otherwise (one process, no cluster).',
    schema: z
      .string()
      .refine(
        (value) => value === 'auto' || (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 256),
        'a number from 1 to 256, or auto',
      )
      .transform((value) => (value === 'auto' ? ('auto' as const) : Number(value)))
      .optional(),
    example: '1',
  }),
  MANAGEMENT_PORT: variable({
    description:
      'Serve /metrics, /healthz and /readyz on this port of their own (bound to HOST) instead of the public one, so they need not be exposed with the OAuth endpoints. Unset: they stay on PORT.',
    schema: z.coerce.number().int().min(0).max(65535).optional(),
    example: '',
  }),
  ISSUER: variable({
    description: 'The issuer identifier: the public base URL of this server, without a trailing slash. Defaults to http://localhost:PORT.',
    schema: z.url().optional(),
    example: 'http://localhost:3000',
  }),
  DATABASE_URL: variable({
    description: 'file:PATH for SQLite (the embedded default) or postgresql://USER:PASSWORD@HOST:PORT/DB for PostgreSQL.',
    schema: z
      .string()
      .regex(/^(file:|postgres(ql)?:\/\/)/, 'must start with file: or postgresql://')
      .default('file:./data/portcullis.db'),
    example: 'file:./data/portcullis.db',
    secret: true,
  }),
  COOKIE_KEYS: variable({
    description: 'Comma-separated keys that sign cookies, newest first (each at least 32 characters). Add a new key in front to rotate.',
    schema: z.string().default(developmentSecrets.COOKIE_KEYS),
    example: developmentSecrets.COOKIE_KEYS,
    secret: true,
  }),
  KEY_ENCRYPTION_KEY: variable({
    description:
      '32 random bytes, base64url (43 characters): encrypts signing keys at rest. Generate with: node -e "console.log(crypto.randomBytes(32).toString(\'base64url\'))"',
    schema: z.string().default(developmentSecrets.KEY_ENCRYPTION_KEY),
    example: developmentSecrets.KEY_ENCRYPTION_KEY,
    secret: true,
  }),
  HASH_PEPPER: variable({
    description:
      'Secret (at least 32 characters) keying the hashes of client secrets, API keys and stored token ids. Changing it invalidates all of them.',
    schema: z.string().default(developmentSecrets.HASH_PEPPER),
    example: developmentSecrets.HASH_PEPPER,
    secret: true,
  }),
  SIGNING_KEY_ALG: variable({
    description: 'Algorithm of signing keys Portcullis creates: ES256 (default) or RS256.',
    schema: z.enum(['ES256', 'RS256']).default('ES256'),
    example: 'ES256',
  }),
  ACCESS_TOKEN_TTL_SECONDS: variable({
    description: 'Lifetime of access tokens for userinfo (tokens for an API live as long as that API says). 60 to 3600.',
    schema: z.coerce.number().int().min(60).max(3600).default(900),
    example: '900',
  }),
  ID_TOKEN_TTL_SECONDS: variable({
    description: 'Lifetime of ID tokens. 60 to 86400.',
    schema: z.coerce.number().int().min(60).max(86_400).default(3600),
    example: '3600',
  }),
  REFRESH_TOKEN_IDLE_SECONDS: variable({
    description: 'A refresh token unused this long expires (each rotation starts the clock again).',
    schema: z.coerce
      .number()
      .int()
      .min(60)
      .max(365 * 86_400)
      .default(14 * 86_400),
    example: '1209600',
  }),
  REFRESH_TOKEN_ABSOLUTE_SECONDS: variable({
    description: 'No refresh token lives longer than this after the login that started its chain.',
    schema: z.coerce
      .number()
      .int()
      .min(60)
      .max(2 * 365 * 86_400)
      .default(90 * 86_400),
    example: '7776000',
  }),
  JWKS_MAX_AGE_SECONDS: variable({
    description: 'How long verifiers may cache the JWKS (Cache-Control max-age). A new key is published this long before it signs.',
    schema: secondsSchema(600, 24 * 3600),
    example: '600',
  }),
  KEYS_POLL_INTERVAL_SECONDS: variable({
    description: 'How often each instance checks the database for rotated signing keys and swaps them in.',
    schema: secondsSchema(5, 3600),
    example: '5',
  }),
  KEY_ROTATION_INTERVAL_SECONDS: variable({
    description: 'Rotate signing keys on this schedule (0 turns it off). Defaults to 30 days in production and off otherwise.',
    schema: z.coerce
      .number()
      .int()
      .min(0)
      .max(10 * 365 * 24 * 3600)
      .optional(),
    example: '0',
  }),
  API_KEY_PREFIX: variable({
    description:
      'Prefix of the API keys this server issues and accepts, e.g. pcl_live or pcl_test. Defaults to pcl_live in production and pcl_test otherwise.',
    schema: z
      .string()
      .regex(/^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/, 'lower-case letters and digits, in parts joined by _')
      .max(32)
      .optional(),
    example: 'pcl_test',
  }),
  REDIS_URL: variable({
    description: 'redis://HOST:PORT: share rate-limit counters between instances. Without it each instance counts alone.',
    schema: z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .optional(),
    example: '',
    secret: true,
  }),
  TRUST_PROXY_HOPS: variable({
    description:
      'How many reverse proxies in front of Portcullis to trust for X-Forwarded-For/-Proto/-Host (0: none, the default). Set it to the number of proxies you run, never more.',
    schema: z.coerce.number().int().min(0).max(10).default(0),
    example: '0',
  }),
  TOKEN_RATE_LIMIT: variable({
    description:
      'Token endpoint requests allowed per authenticated client, e.g. 600/1m. Counted after the client has authenticated, so nobody else can spend it.',
    schema: rateSchema('600/1m'),
    example: '600/1m',
  }),
  CLIENT_AUTH_FAILURE_LIMIT: variable({
    description:
      "Failed client authentications (and requests that never authenticate) allowed per source address at the token, introspection and revocation endpoints, e.g. 30/1m. Counted apart from every client's own limit.",
    schema: rateSchema('30/1m'),
    example: '30/1m',
  }),
  INTROSPECTION_RATE_LIMIT: variable({
    description: 'Introspection requests allowed per authenticated calling client (resource server), e.g. 6000/1m.',
    schema: rateSchema('6000/1m'),
    example: '6000/1m',
  }),
  REQUIRE_PAR: variable({
    description:
      'true: every client must push its authorization requests to the PAR endpoint first (RFC 9126 section 5); false (the default): only clients registered with --require-par (or --profile fapi2).',
    schema: z.enum(['true', 'false']).default('false'),
    example: 'false',
  }),
  DPOP_REQUIRE_NONCE: variable({
    description:
      'true: a DPoP proof must carry a nonce this server issued (RFC 9449 section 8; the first request of a client is answered use_dpop_nonce with the DPoP-Nonce header). false (the default): nonces are issued and checked when sent, but not required.',
    schema: z.enum(['true', 'false']).default('false'),
    example: 'false',
  }),
  CLIENT_REGISTRATION: variable({
    description:
      '`on`: dynamic client registration (RFC 7591) and management (RFC 7592), each registration with an initial access token an administrator made (`portcullis client registration-token create`). `off` (the default): clients are registered only by administrators.',
    schema: z.enum(['off', 'on']).default('off'),
    example: 'off',
  }),
  DEVICE_CODE_FAILURE_LIMIT: variable({
    description:
      'Wrong user codes allowed per source address (IPv4 /24, IPv6 /64) at the device verification page (RFC 8628 section 5.1), e.g. 10/15m. Past it the page refuses until the window ends.',
    schema: rateSchema('10/15m'),
    example: '10/15m',
  }),
  LOGIN_MAX_FAILURES: variable({
    description:
      'Password checks allowed per account from one network (IPv4 /24, IPv6 /64) in 15 minutes before that account is locked for that network for a while.',
    schema: z.coerce.number().int().min(1).max(1000).default(5),
    example: '5',
  }),
  LOGIN_ACCOUNT_MAX_FAILURES: variable({
    description:
      'Failed logins allowed per account from all networks together in a day; past it no password is checked for the account until the day is over. The slow, global bound on guessing one account.',
    schema: z.coerce.number().int().min(1).max(100_000).default(100),
    example: '100',
  }),
  LOGIN_IP_MAX_FAILURES: variable({
    description:
      'Failed logins allowed per source address (all accounts together) in 15 minutes: bounds the password-hashing work one address can cause.',
    schema: z.coerce.number().int().min(1).max(100_000).default(30),
    example: '30',
  }),
  LOGIN_LOCK_SECONDS: variable({
    description: "The first lock's length after too many failed logins; each further lock the same day doubles it (up to a day).",
    schema: z.coerce.number().int().min(1).max(86_400).default(60),
    example: '60',
  }),
  USER_API_KEY_DEFAULT_DAYS: variable({
    description: 'Lifetime, in days, of an API key a person makes for themselves when they do not choose one.',
    schema: z.coerce.number().int().min(1).max(3650).default(90),
    example: '90',
  }),
  USER_API_KEY_MAX_DAYS: variable({
    description: 'The longest, in days, an API key owned by a person may live (keys of people always expire).',
    schema: z.coerce.number().int().min(1).max(3650).default(365),
    example: '365',
  }),
  RECENT_SIGN_IN_SECONDS: variable({
    description:
      'Creating or rotating an API key on the developer page needs a sign-in at most this old, or the password again (sudo mode).',
    schema: z.coerce.number().int().min(1).max(86_400).default(600),
    example: '600',
  }),
  MFA: variable({
    description:
      'Second factors (an authenticator app, passkeys, recovery codes): `off` (none offered or asked; a client or request that needs one is refused), `optional` (the default: people may add one on their account page, and whoever has one is asked for it at every sign-in), `required` (everyone must: a person without one is led through adding one before any app gets a code). A client registered with --require-mfa, or a person an administrator marked, needs one whatever this says.',
    schema: z.enum(['off', 'optional', 'required']).default('optional'),
    example: 'optional',
  }),
  FEDERATION_TIMEOUT_SECONDS: variable({
    description:
      'The longest a request to an upstream identity provider (a connection: discovery, the code exchange, its keys, userinfo) may take; a sign-in whose upstream does not answer in time ends on an error page with status 504.',
    schema: z.coerce.number().int().min(1).max(120).default(10),
    example: '10',
  }),
  ORGANIZATION_CREATION: variable({
    description:
      'Who may make an organization: `admins` (the default: `portcullis organization create` or the admin API) or `people` too, from the account page (the maker becomes its member with ORGANIZATION_OWNER_ROLES).',
    schema: z.enum(['admins', 'people']).default('admins'),
    example: 'admins',
  }),
  ORGANIZATION_OWNER_ROLES: variable({
    description:
      'The organization roles (names, comma-separated) a person who made an organization holds in it; each must be a role of the organization template when one is made.',
    schema: z
      .string()
      .default('')
      .transform((value) =>
        value
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean),
      ),
    example: 'owner',
  }),
  SIGNUP: variable({
    description:
      'Who may make an account: `closed` (only administrators, with `portcullis user create` or the admin API), `invite` (also people an administrator invited: `portcullis user invite`), `open` (anyone, from the sign-up page linked on the login page). Defaults to open in development and closed otherwise. invite and open need mail (SMTP_URL) in production.',
    schema: z.enum(['closed', 'invite', 'open']).optional(),
    example: 'closed',
  }),
  EMAIL_VERIFICATION: variable({
    description:
      '`required` (the default): an account made by sign-up cannot sign in until its email is verified. `optional`: it can, and its tokens say email_verified false until it is.',
    schema: z.enum(['required', 'optional']).default('required'),
    example: 'required',
  }),
  SMTP_URL: variable({
    description:
      'smtp://USER:PASSWORD@HOST:587 (STARTTLS when the server offers it; add ?requireTLS=true to insist) or smtps://USER:PASSWORD@HOST:465 (TLS from the start). Unset outside production: each mail is written to MAIL_OUTBOX_DIR as a .eml file and its link logged. In production a feature that sends mail (sign-up, invitations, forgotten passwords, email changes) needs it.',
    schema: z
      .string()
      .regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://')
      .optional(),
    example: '',
    secret: true,
  }),
  MAIL_FROM: variable({
    description:
      'The From of every mail, e.g. "Example Accounts <accounts@example.com>". Defaults to BRAND_NAME <no-reply@ISSUER\'s host>.',
    schema: z.string().min(3).max(320).optional(),
    example: '',
  }),
  MAIL_OUTBOX_DIR: variable({
    description: 'Without SMTP_URL (development and tests): the folder each mail is written to as a .eml file.',
    schema: z.string().min(1).default('./data/outbox'),
    example: './data/outbox',
  }),
  BRAND_NAME: variable({
    description: 'The product name on every page and mail.',
    schema: z.string().trim().min(1).max(80).default('Portcullis'),
    example: 'Portcullis',
  }),
  BRAND_LOGO_URL: variable({
    description: 'An https: (or same-origin path) image shown above every page and in mails. Unset: the name alone.',
    schema: z
      .string()
      .max(2000)
      .refine((value) => value.startsWith('/') || /^https?:\/\//.test(value), 'an http(s): URL or a path starting with /')
      .optional(),
    example: '',
  }),
  BRAND_COLOR: variable({
    description:
      'The primary colour, #rrggbb: buttons and links. Its contrast is checked at start (WCAG 2.2): button text is white or near-black, whichever reads, and a colour too light for links on white is darkened for them, with a warning.',
    schema: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/, 'a colour as #rrggbb')
      .optional(),
    example: '',
  }),
  AUDIT_RETENTION_DAYS: variable({
    description: 'Audit events older than this many days are deleted.',
    schema: z.coerce.number().int().min(1).max(3650).default(365),
    example: '365',
  }),
  PURGE_INTERVAL_SECONDS: variable({
    description: 'How often expired tokens, sessions and other artifacts are deleted from the database.',
    schema: secondsSchema(600, 2_147_483),
    example: '600',
  }),
  SQLITE_SYNCHRONOUS: variable({
    description:
      "SQLite only: `normal` (the default, and better-sqlite3's own for WAL) syncs the write-ahead log to disk at checkpoints, `full` at every commit. Either survives a crash of the process; after a power loss or OS crash `normal` may lose the last commits (never corrupts); `full` makes every write slower.",
    schema: z.enum(['normal', 'full']).default('normal'),
    example: 'normal',
  }),
  LOG_FORMAT: variable({
    description:
      '`json` (one JSON object per line), `pretty` (for people), or `auto` (the default): pretty in development when the output is a terminal, JSON otherwise.',
    schema: z.enum(['auto', 'json', 'pretty']).default('auto'),
    example: 'auto',
  }),
  LOG_LEVEL: variable({
    description: 'Log level: fatal, error, warn, info, debug, trace or silent.',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    example: 'info',
  }),
};

export type VariableName = keyof typeof configVariables;

const configSchema = z.object(configVariables);

/** The environment as the schemas read it: every variable, typed, defaults applied. */
type RawConfig = z.output<typeof configSchema>;

/** Portcullis's configuration, as `loadConfig` builds it from the variables. */
export type Config = ReturnType<typeof buildConfig> & {
  /** What is allowed but unwise (a secret file others may read), said in the log at start. */
  warnings: string[];
};

interface Problem {
  variable: string;
  message: string;
}

/** Thrown when the environment does not describe a valid configuration. Lists every problem. */
export class ConfigError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
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
  const { env: resolved, warnings } = readSecretFiles(env);
  const values = parseVariables(resolved);
  const config = { ...buildConfig(values), warnings };
  const problems = [...issuerProblems(config), ...secretProblems(values, config), ...boundProblems(values)];
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** The variables that are secrets, each of which may come from `NAME_FILE` instead. */
export const secretVariables = Object.entries(configVariables)
  .filter(([, schema]) => documentation.get(schema)?.secret)
  .map(([name]) => name as VariableName);

/**
 * Replaces each `NAME_FILE` by the content of the file it names (its final line break dropped),
 * as Docker and Kubernetes mount secrets. Refuses, naming the variable: both `NAME` and
 * `NAME_FILE` set, a file that cannot be read, and an empty one. A file others may read is
 * allowed, with a warning: the secret is only as safe as the file.
 */
function readSecretFiles(env: Record<string, string | undefined>): { env: Record<string, string | undefined>; warnings: string[] } {
  const resolved = { ...env };
  const problems: Problem[] = [];
  const warnings: string[] = [];
  for (const name of secretVariables) {
    const fileVariable = `${name}_FILE`;
    const file = env[fileVariable];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push({ variable: fileVariable, message: `set ${name} or ${fileVariable}, not both` });
      continue;
    }
    let content: string;
    try {
      content = fs.readFileSync(file, 'utf8');
      if ((fs.statSync(file).mode & 0o004) !== 0)
        warnings.push(
          `${fileVariable}: ${file} can be read by every user of this machine; make it readable by Portcullis only (chmod 600 or 400)`,
        );
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      problems.push({ variable: fileVariable, message: `cannot read ${file} (${code})` });
      continue;
    }
    const value = content.replace(/\r?\n$/, '');
    if (value.trim() === '') problems.push({ variable: fileVariable, message: `${file} is empty` });
    else resolved[name] = value;
  }
  if (problems.length) throw new ConfigError(problems);
  return { env: resolved, warnings };
}

/** Each variable through its schema; an empty value counts as unset. Throws with every bad one. */
function parseVariables(env: Record<string, string | undefined>): RawConfig {
  const given = Object.fromEntries(Object.keys(configVariables).map((name) => [name, env[name] === '' ? undefined : env[name]]));
  const result = configSchema.safeParse(given);
  if (result.success) return result.data;
  throw new ConfigError(
    Object.keys(configVariables).flatMap((variable) => {
      const messages = result.error.issues.filter((issue) => issue.path[0] === variable).map((issue) => issue.message);
      return messages.length ? [{ variable, message: messages.join('; ') }] : [];
    }),
  );
}

/** The configuration the rest of Portcullis reads, derived from the variables; its type is `Config`. */
function buildConfig(values: RawConfig) {
  const production = values.NODE_ENV === 'production';
  return {
    production,
    port: values.PORT,
    host: values.HOST,
    /** Worker processes (1: no cluster). */
    workers: values.WORKERS === 'auto' || (values.WORKERS === undefined && production) ? os.availableParallelism() : (values.WORKERS ?? 1),
    managementPort: values.MANAGEMENT_PORT,
    issuer: (values.ISSUER ?? `http://localhost:${values.PORT}`).replace(/\/+$/, ''),
    databaseUrl: values.DATABASE_URL,
    cookieKeys: values.COOKIE_KEYS.split(',')
      .map((key) => key.trim())
      .filter(Boolean),
    keyEncryptionKey: new Uint8Array(Buffer.from(values.KEY_ENCRYPTION_KEY, 'base64url')),
    hashPepper: values.HASH_PEPPER,
    signingKeyAlg: values.SIGNING_KEY_ALG,
    lifetimes: {
      accessToken: values.ACCESS_TOKEN_TTL_SECONDS,
      idToken: values.ID_TOKEN_TTL_SECONDS,
      refreshTokenIdle: values.REFRESH_TOKEN_IDLE_SECONDS,
      refreshTokenAbsolute: values.REFRESH_TOKEN_ABSOLUTE_SECONDS,
    },
    jwksMaxAgeSeconds: values.JWKS_MAX_AGE_SECONDS,
    keysPollIntervalSeconds: values.KEYS_POLL_INTERVAL_SECONDS,
    keyRotationIntervalSeconds: values.KEY_ROTATION_INTERVAL_SECONDS ?? (production ? 30 * 24 * 3600 : 0),
    apiKeyPrefix: values.API_KEY_PREFIX ?? (production ? 'pcl_live' : 'pcl_test'),
    redisUrl: values.REDIS_URL,
    login: {
      maxFailures: values.LOGIN_MAX_FAILURES,
      accountMaxFailures: values.LOGIN_ACCOUNT_MAX_FAILURES,
      ipMaxFailures: values.LOGIN_IP_MAX_FAILURES,
      lockSeconds: values.LOGIN_LOCK_SECONDS,
    },
    trustProxyHops: values.TRUST_PROXY_HOPS,
    tokenRateLimit: values.TOKEN_RATE_LIMIT,
    clientAuthFailureLimit: values.CLIENT_AUTH_FAILURE_LIMIT,
    introspectionRateLimit: values.INTROSPECTION_RATE_LIMIT,
    requirePar: values.REQUIRE_PAR === 'true',
    dpopRequireNonce: values.DPOP_REQUIRE_NONCE === 'true',
    clientRegistration: values.CLIENT_REGISTRATION === 'on',
    deviceCodeFailureLimit: values.DEVICE_CODE_FAILURE_LIMIT,
    userApiKeyDays: { default: values.USER_API_KEY_DEFAULT_DAYS, max: values.USER_API_KEY_MAX_DAYS },
    recentSignInSeconds: values.RECENT_SIGN_IN_SECONDS,
    signup: values.SIGNUP ?? (values.NODE_ENV === 'development' ? ('open' as const) : ('closed' as const)),
    emailVerification: values.EMAIL_VERIFICATION,
    mfa: values.MFA,
    federationTimeoutSeconds: values.FEDERATION_TIMEOUT_SECONDS,
    organizations: { creation: values.ORGANIZATION_CREATION, ownerRoles: values.ORGANIZATION_OWNER_ROLES },
    mail: {
      smtpUrl: values.SMTP_URL,
      from: values.MAIL_FROM,
      outboxDirectory: values.MAIL_OUTBOX_DIR,
      /** Mail reaches people: a mail server is set, or (outside production) the outbox folder stands in for one. */
      deliverable: Boolean(values.SMTP_URL) || values.NODE_ENV !== 'production',
    },
    brand: { name: values.BRAND_NAME, logoUrl: values.BRAND_LOGO_URL, color: values.BRAND_COLOR },
    /** The names of the built-in development secrets this configuration uses (warned about at start). */
    developmentSecretsInUse: Object.keys(developmentSecrets)
      .filter(isDevelopmentSecret)
      .filter((name) => usesBuiltIn(values[name], developmentSecrets[name])),
    auditRetentionDays: values.AUDIT_RETENTION_DAYS,
    purgeIntervalSeconds: values.PURGE_INTERVAL_SECONDS,
    logLevel: values.LOG_LEVEL,
    logFormat: values.LOG_FORMAT,
    sqliteSynchronous: values.SQLITE_SYNCHRONOUS,
  };
}

type DevelopmentSecret = keyof typeof developmentSecrets;

const isDevelopmentSecret = (name: string): name is DevelopmentSecret => Object.hasOwn(developmentSecrets, name);

/** True when any comma-separated part of `value` is one of the built-in value's parts. */
function usesBuiltIn(value: string, builtIn: string): boolean {
  const parts = builtIn.split(',');
  return value.split(',').some((part) => parts.includes(part.trim()));
}

/** RFC 8414 section 2's issuer: http(s), no query or fragment, and https in production. */
function issuerProblems({ issuer, production }: Config): Problem[] {
  const url = new URL(issuer);
  const problems: Problem[] = [];
  if (!['http:', 'https:'].includes(url.protocol)) {
    problems.push({ variable: 'ISSUER', message: 'must be an http: or https: URL' });
  }
  if (url.search || url.hash) {
    problems.push({ variable: 'ISSUER', message: 'must not have a query or fragment (RFC 8414 section 2)' });
  }
  if (production && url.protocol === 'http:' && !localHosts.has(url.hostname)) {
    problems.push({ variable: 'ISSUER', message: 'must be https: in production (http: is allowed only for localhost)' });
  }
  return problems;
}

function secretProblems(values: RawConfig, config: Config): Problem[] {
  const problems: Problem[] = [];
  if (config.cookieKeys.length === 0 || config.cookieKeys.some((key) => key.length < 32)) {
    problems.push({ variable: 'COOKIE_KEYS', message: 'needs one or more comma-separated keys of at least 32 characters each' });
  }
  if (config.keyEncryptionKey.length !== 32 || !/^[A-Za-z0-9_-]{43}$/.test(values.KEY_ENCRYPTION_KEY)) {
    problems.push({ variable: 'KEY_ENCRYPTION_KEY', message: 'must be 32 bytes encoded as base64url (43 characters)' });
  }
  if (config.hashPepper.length < 32) {
    problems.push({ variable: 'HASH_PEPPER', message: 'must be at least 32 characters' });
  }
  // The built-in secrets are published with the code: anyone with a database dump could decrypt
  // the signing keys and forge tokens with them. Only an issuer nobody else can reach may use them.
  const issuer = new URL(config.issuer);
  const loopbackIssuer = isLoopbackHost(issuer.hostname);
  for (const name of config.developmentSecretsInUse) {
    if (config.production) problems.push({ variable: name, message: 'is a built-in development secret; set your own in production' });
    else if (!loopbackIssuer)
      problems.push({
        variable: name,
        message: `is a built-in development secret, which only a loopback issuer may use (ISSUER is ${issuer.host}); set your own`,
      });
  }
  return problems;
}

/** The bounds that tie one variable to another. */
function boundProblems(values: RawConfig): Problem[] {
  const problems: Problem[] = [];
  if (values.USER_API_KEY_DEFAULT_DAYS > values.USER_API_KEY_MAX_DAYS) {
    problems.push({ variable: 'USER_API_KEY_DEFAULT_DAYS', message: 'must not exceed USER_API_KEY_MAX_DAYS' });
  }
  if (values.KEYS_POLL_INTERVAL_SECONDS > values.JWKS_MAX_AGE_SECONDS) {
    problems.push({
      variable: 'KEYS_POLL_INTERVAL_SECONDS',
      message: 'must not exceed JWKS_MAX_AGE_SECONDS: instances must see a new key before verifiers need it',
    });
  }
  if (values.REFRESH_TOKEN_IDLE_SECONDS > values.REFRESH_TOKEN_ABSOLUTE_SECONDS) {
    problems.push({ variable: 'REFRESH_TOKEN_IDLE_SECONDS', message: 'must not exceed REFRESH_TOKEN_ABSOLUTE_SECONDS' });
  }
  if (values.MANAGEMENT_PORT !== undefined && values.MANAGEMENT_PORT !== 0 && values.MANAGEMENT_PORT === values.PORT) {
    problems.push({
      variable: 'MANAGEMENT_PORT',
      message: 'must differ from PORT (leave it unset to serve /metrics and the health checks on PORT)',
    });
  }
  // Mail that would only land in a folder on the server reaches nobody: in production a feature
  // that must send mail needs a mail server.
  if (values.NODE_ENV === 'production' && !values.SMTP_URL && values.SIGNUP && values.SIGNUP !== 'closed') {
    problems.push({
      variable: 'SMTP_URL',
      message: `is needed in production for SIGNUP=${values.SIGNUP}: invitations and sign-up send mail`,
    });
  }
  const rotation = values.KEY_ROTATION_INTERVAL_SECONDS;
  if (rotation && rotation < 2 * values.JWKS_MAX_AGE_SECONDS) {
    problems.push({
      variable: 'KEY_ROTATION_INTERVAL_SECONDS',
      message: 'must be 0 or at least twice JWKS_MAX_AGE_SECONDS, so each next key is published long enough',
    });
  }
  return problems;
}

/** The text of `.env.example`, made from the schema so the two cannot drift apart. */
export function renderEnvExample(): string {
  const lines = [
    '# Portcullis configuration. Every variable is optional in development.',
    '# Written from src/config/config.ts (npm run env:example); a test checks they agree.',
    '',
  ];
  for (const [name, schema] of Object.entries(configVariables)) {
    const doc = documentation.get(schema);
    if (!doc) throw new Error(`${name} has no documentation`);
    const description = doc.secret ? `${doc.description} Or ${name}_FILE: a file that holds it.` : doc.description;
    lines.push(`# ${description}`, doc.example ? `${name}=${doc.example}` : `# ${name}=`, '');
  }
  return lines.join('\n');
}
