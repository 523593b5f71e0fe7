// compose.yaml is coherent: what each service waits for exists and can report health, both
// instances share one database and one Redis, every secret is a file that
// deploy/make-secrets.sh makes, the proxy names both instances, and the instances' environment
// with those secrets is a configuration Portcullis accepts for production.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/index.ts';
import { root } from './support.ts';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  secrets?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  read_only?: boolean;
  tmpfs?: string[];
  volumes?: string[];
  networks?: string[];
  ports?: string[];
}
interface Compose {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
  volumes: Record<string, unknown>;
  networks: Record<string, { internal?: boolean }>;
}

const compose = parse(fs.readFileSync(path.join(root, 'compose.yaml'), 'utf8'), { merge: true }) as Compose;
const services = compose.services;
const instances = ['portcullis-1', 'portcullis-2'];
const usesPortcullisImage = (service: Service) => service.build !== undefined && service.image === services['portcullis-1']!.image;

describe('compose.yaml', () => {
  test('has PostgreSQL, Redis, a one-shot migration, two Portcullis instances and a proxy', () => {
    expect(Object.keys(services).sort()).toEqual(['migrate', 'portcullis-1', 'portcullis-2', 'postgres', 'proxy', 'redis']);
    for (const name of [...instances, 'migrate']) expect(usesPortcullisImage(services[name]!)).toBe(true);
    expect(services.migrate!.command).toEqual(['node', 'dist/cli/main.js', 'migrate']);
  });

  test('every service waited for exists, and reports health where health is awaited', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        const target = services[dependency];
        expect({ name, dependency, exists: target !== undefined }).toEqual({ name, dependency, exists: true });
        expect(['service_healthy', 'service_completed_successfully', 'service_started']).toContain(condition);
        if (condition === 'service_healthy') {
          // Its own healthcheck, or the image's HEALTHCHECK (the Dockerfile's, on /readyz).
          const hasHealth = (target!.healthcheck?.test !== undefined && !target!.healthcheck.disable) || usesPortcullisImage(target!);
          expect({ dependency, hasHealth }).toEqual({ dependency, hasHealth: true });
        }
      }
    }
    for (const name of instances) {
      expect(services[name]!.depends_on).toEqual({
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
      });
    }
    expect(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8')).toMatch(/^HEALTHCHECK .*deploy\/healthcheck\.mjs/m);
  });

  test('both instances share one database and one Redis, trust one proxy, and run read-only with /data and /tmp', () => {
    const [first, second] = instances.map((name) => services[name]!);
    for (const variable of [
      'DATABASE_URL_FILE',
      'REDIS_URL_FILE',
      'ISSUER',
      'HASH_PEPPER_FILE',
      'KEY_ENCRYPTION_KEY_FILE',
      'COOKIE_KEYS_FILE',
    ]) {
      expect(first!.environment![variable]).toBeTruthy();
      expect(second!.environment![variable]).toBe(first!.environment![variable]);
    }
    for (const service of [first!, second!]) {
      expect(service.environment).toMatchObject({ NODE_ENV: 'production', TRUST_PROXY_HOPS: '1' });
      expect(service.environment).not.toHaveProperty('DATABASE_URL');
      expect(service.read_only).toBe(true);
      expect(service.tmpfs).toEqual(['/tmp']);
      expect(service.volumes!.filter((volume) => volume.endsWith(':/data'))).toHaveLength(1);
    }
    // Each its own /data volume.
    expect(first!.volumes).not.toEqual(second!.volumes);
    expect(compose.networks.backend!.internal).toBe(true);
    expect(services.postgres!.networks).toEqual(['backend']);
    expect(services.redis!.networks).toEqual(['backend']);
  });

  test('secrets are files, mounted where the *_FILE variables point, and never given as values', () => {
    for (const [name, secret] of Object.entries(compose.secrets))
      expect({ name, file: secret.file }).toEqual({ name, file: `./secrets/${name}` });
    for (const [name, service] of Object.entries(services)) {
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        expect({
          name,
          variable,
          secretValue: /^(COOKIE_KEYS|KEY_ENCRYPTION_KEY|HASH_PEPPER|DATABASE_URL|REDIS_URL|POSTGRES_PASSWORD)$/.test(variable),
        }).toEqual({
          name,
          variable,
          secretValue: false,
        });
        if (variable.endsWith('_FILE') && value !== '') {
          const [, secret = ''] = /^\/run\/secrets\/(\w+)$/.exec(value) ?? [];
          expect({ name, variable, mounted: service.secrets?.includes(secret) ?? false, declared: secret in compose.secrets }).toEqual({
            name,
            variable,
            mounted: true,
            declared: true,
          });
        }
      }
    }
  });

  test('the proxy config names both instances on their PORT and sets the forwarded headers', () => {
    const mount = services.proxy!.volumes!.find((volume) => volume.includes('/etc/nginx/'))!;
    const config = fs.readFileSync(path.join(root, mount.split(':')[0]!), 'utf8');
    for (const name of instances) expect(config).toContain(`server ${name}:${services[name]!.environment!.PORT}`);
    for (const header of ['X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host'])
      expect(config).toMatch(new RegExp(`proxy_set_header ${header} \\$`));
    expect(config).toMatch(/proxy_pass http:\/\/portcullis;/);
    // The management port is not what the proxy forwards to.
    expect(config).not.toContain(`:${services['portcullis-1']!.environment!.MANAGEMENT_PORT}`);
  });

  test("deploy/make-secrets.sh makes every secret, and the instances' environment is a production configuration Portcullis accepts", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-secrets-'));
    try {
      const made = spawnSync('sh', [path.join(root, 'deploy/make-secrets.sh'), dir], { encoding: 'utf8' });
      expect({ status: made.status, stderr: made.stderr }).toEqual({ status: 0, stderr: '' });
      expect(fs.readdirSync(dir).sort()).toEqual(Object.keys(compose.secrets).sort());
      const first = fs.readFileSync(path.join(dir, 'hash_pepper'), 'utf8');
      // Run again: kept, not replaced.
      expect(spawnSync('sh', [path.join(root, 'deploy/make-secrets.sh'), dir], { encoding: 'utf8' }).stdout).toMatch(/exists, kept/);
      expect(fs.readFileSync(path.join(dir, 'hash_pepper'), 'utf8')).toBe(first);

      const read = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8').trim();
      const database = new URL(read('database_url'));
      expect([database.protocol, database.username, decodeURIComponent(database.password), database.hostname, database.pathname]).toEqual([
        'postgresql:',
        services.postgres!.environment!.POSTGRES_USER,
        read('postgres_password'),
        'postgres',
        `/${services.postgres!.environment!.POSTGRES_DB}`,
      ]);
      const redis = new URL(read('redis_url'));
      expect([redis.hostname, decodeURIComponent(redis.password)]).toEqual(['redis', /^requirepass (\S+)$/m.exec(read('redis_conf'))![1]]);

      const environment = Object.fromEntries(
        Object.entries(services['portcullis-1']!.environment!).map(([name, value]) => [
          name,
          value.replace(/^\/run\/secrets\//, `${dir}/`).replace(/^\$\{ISSUER:-(.*)\}$/, '$1'),
        ]),
      );
      const config = loadConfig(environment);
      expect(config.production).toBe(true);
      expect(config.databaseUrl).toBe(read('database_url'));
      expect(config.redisUrl).toBe(read('redis_url'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const composeCommand = [['docker', 'compose'], ['docker-compose']].find(
    ([command, ...args]) => spawnSync(command!, [...args, 'version'], { stdio: 'ignore', timeout: 20_000 }).status === 0,
  );
  if (!composeCommand)
    console.warn(
      'test/deploy/compose: neither `docker compose` nor `docker-compose` is installed here; their own check of compose.yaml is skipped',
    );
  (composeCommand ? test : test.skip)(
    `${composeCommand ? composeCommand.join(' ') : 'docker compose'} config accepts compose.yaml${composeCommand ? '' : ' (skipped: not installed)'}`,
    () => {
      const [command, ...args] = composeCommand!;
      const checked = spawnSync(command!, [...args, '--file', 'compose.yaml', 'config', '--quiet'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect({ status: checked.status, stderr: checked.stderr }).toEqual({ status: 0, stderr: '' });
    },
  );
});
