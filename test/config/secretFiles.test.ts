// Secrets from files (NAME_FILE, as Docker and Kubernetes mount them), and the variables that
// decide how the process runs: WORKERS, MANAGEMENT_PORT and LOG_FORMAT.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, secretVariables } from '../../src/config/index.ts';
import { problemsOf } from '../support/config.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-secrets-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes `content` to a file readable by its owner only (or with `mode`), and returns its path. */
function secretFile(name: string, content: string, mode = 0o600): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
  return file;
}

const production = { NODE_ENV: 'production', ISSUER: 'https://auth.example.com' };
const values = {
  COOKIE_KEYS: 'a-production-cookie-key-that-is-long-enough-1',
  KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64url'),
  HASH_PEPPER: 'a-production-pepper-that-is-long-enough-1234',
};

test('every secret variable can come from a file', () => {
  expect(secretVariables.sort()).toEqual(['COOKIE_KEYS', 'DATABASE_URL', 'HASH_PEPPER', 'KEY_ENCRYPTION_KEY', 'REDIS_URL', 'SMTP_URL']);
});

test('production reads its secrets from NAME_FILE, dropping the final line break', () => {
  const config = loadConfig({
    ...production,
    COOKIE_KEYS_FILE: secretFile('cookie', `${values.COOKIE_KEYS}\n`),
    KEY_ENCRYPTION_KEY_FILE: secretFile('kek', `${values.KEY_ENCRYPTION_KEY}\r\n`),
    HASH_PEPPER_FILE: secretFile('pepper', values.HASH_PEPPER),
    DATABASE_URL_FILE: secretFile('db', 'postgresql://portcullis:s3cret@db:5432/portcullis\n'),
    REDIS_URL_FILE: secretFile('redis', 'redis://:pw@cache:6379\n'),
  });
  expect(config.cookieKeys).toEqual([values.COOKIE_KEYS]);
  expect(Buffer.from(config.keyEncryptionKey).toString('base64url')).toBe(values.KEY_ENCRYPTION_KEY);
  expect(config.hashPepper).toBe(values.HASH_PEPPER);
  expect(config.databaseUrl).toBe('postgresql://portcullis:s3cret@db:5432/portcullis');
  expect(config.redisUrl).toBe('redis://:pw@cache:6379');
  expect(config.developmentSecretsInUse).toEqual([]);
  expect(config.warnings).toEqual([]);
});

test('a value read from a file is checked like one from the environment', () => {
  expect(problemsOf({ ...production, ...values, HASH_PEPPER: '', HASH_PEPPER_FILE: secretFile('short', 'too short\n') })).toEqual({
    HASH_PEPPER: 'must be at least 32 characters',
  });
});

test('NAME and NAME_FILE both set is refused, naming both', () => {
  expect(problemsOf({ ...production, ...values, HASH_PEPPER_FILE: secretFile('pepper2', values.HASH_PEPPER) })).toEqual({
    HASH_PEPPER_FILE: 'set HASH_PEPPER or HASH_PEPPER_FILE, not both',
  });
});

test('a file that cannot be read, or is empty, is refused naming the variable and the file', () => {
  const missing = path.join(dir, 'missing');
  const empty = secretFile('empty', '\n');
  const folder = fs.mkdtempSync(path.join(dir, 'folder-'));
  expect(
    problemsOf({
      ...production,
      ...values,
      COOKIE_KEYS: '',
      HASH_PEPPER: '',
      KEY_ENCRYPTION_KEY: '',
      COOKIE_KEYS_FILE: missing,
      HASH_PEPPER_FILE: empty,
      KEY_ENCRYPTION_KEY_FILE: folder,
    }),
  ).toEqual({
    COOKIE_KEYS_FILE: `cannot read ${missing} (ENOENT)`,
    HASH_PEPPER_FILE: `${empty} is empty`,
    KEY_ENCRYPTION_KEY_FILE: `cannot read ${folder} (EISDIR)`,
  });
});

test('a secret file every user may read is accepted with a warning', () => {
  const file = secretFile('open', values.HASH_PEPPER, 0o644);
  const config = loadConfig({ ...production, ...values, HASH_PEPPER: '', HASH_PEPPER_FILE: file });
  expect(config.hashPepper).toBe(values.HASH_PEPPER);
  expect(config.warnings).toEqual([expect.stringMatching(new RegExp(`^HASH_PEPPER_FILE: ${file} can be read by every user`))]);
});

test('a file is never read for a variable that is not a secret', () => {
  expect(loadConfig({ PORT_FILE: secretFile('port', '4000') }).port).toBe(3000);
});

test('WORKERS: 1 outside production, one per core in production, a number, or auto', () => {
  expect(loadConfig({}).workers).toBe(1);
  expect(loadConfig({ ...production, ...values }).workers).toBe(os.availableParallelism());
  expect(loadConfig({ WORKERS: '3' }).workers).toBe(3);
  expect(loadConfig({ WORKERS: 'auto' }).workers).toBe(os.availableParallelism());
  expect(loadConfig({ ...production, ...values, WORKERS: '1' }).workers).toBe(1);
});

test.each(['0', '-2', 'two', '2.5', '257', ' 2'])('WORKERS=%j is refused', (workers) => {
  expect(problemsOf({ WORKERS: workers })).toEqual({ WORKERS: 'a number from 1 to 256, or auto' });
});

test('MANAGEMENT_PORT must differ from PORT', () => {
  expect(loadConfig({ MANAGEMENT_PORT: '9090' }).managementPort).toBe(9090);
  expect(loadConfig({}).managementPort).toBeUndefined();
  expect(problemsOf({ PORT: '4000', MANAGEMENT_PORT: '4000' })).toEqual({
    MANAGEMENT_PORT: 'must differ from PORT (leave it unset to serve /metrics and the health checks on PORT)',
  });
  expect(Object.keys(problemsOf({ MANAGEMENT_PORT: '70000' }))).toEqual(['MANAGEMENT_PORT']);
});

test('LOG_FORMAT is auto, json or pretty', () => {
  expect(loadConfig({}).logFormat).toBe('auto');
  expect(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
  expect(Object.keys(problemsOf({ LOG_FORMAT: 'xml' }))).toEqual(['LOG_FORMAT']);
});
