import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runChecks } from './check-compose';
import type { Finding } from './findings';
import { edit, removeCopies, REPO, repoCopy } from './test-support';

const errors = (found: Finding[]) => found.filter((f) => f.level === 'error');

afterEach(removeCopies);

describe('check-compose on this repository', () => {
  it('finds no errors in the committed files', () => {
    const found = runChecks({ root: REPO });
    expect(errors(found)).toEqual([]);
  });

  it('reports observability/alerts.yml as pending, not as an error, while it is missing', () => {
    const dir = repoCopy();
    rmSync(join(dir, 'observability', 'alerts.yml'), { force: true });
    const found = runChecks({ root: dir });
    expect(errors(found)).toEqual([]);
    expect(found).toContainEqual({
      level: 'warning',
      where: 'docker-compose.yml services.prometheus.volumes',
      message: 'mounts ./observability/alerts.yml at /etc/prometheus/alerts.yml: observability/alerts.yml is missing (pending: allowed for now)',
    });
  });
});

describe('check-compose on broken compose files', () => {
  it('fails when a mounted config file is missing', () => {
    const dir = repoCopy();
    rmSync(join(dir, 'observability', 'prometheus.yml'));
    expect(errors(runChecks({ root: dir }))).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.prometheus.volumes',
      message: 'mounts ./observability/prometheus.yml at /etc/prometheus/prometheus.yml, but observability/prometheus.yml does not exist in the repository',
    });
  });

  it('fails when a file referenced through a mounted directory is missing (temporal dynamic config)', () => {
    const dir = repoCopy();
    rmSync(join(dir, 'temporal-config', 'dynamicconfig', 'production-sql.yaml'));
    expect(errors(runChecks({ root: dir }))).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.temporal.environment.DYNAMIC_CONFIG_FILE_PATH',
      message:
        'refers to /etc/temporal/config/dynamicconfig/production-sql.yaml, but temporal-config/dynamicconfig/production-sql.yaml does not exist in the repository',
    });
  });

  it('fails when an init script named by an entrypoint is missing', () => {
    const dir = repoCopy();
    rmSync(join(dir, 'temporal-config', 'register-search-attributes.sh'));
    expect(errors(runChecks({ root: dir }))).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.temporal-init.entrypoint',
      message: 'refers to /temporal-config/register-search-attributes.sh, but temporal-config/register-search-attributes.sh does not exist in the repository',
    });
  });

  it('fails when a mounted YAML config points at a file no volume provides', () => {
    const dir = repoCopy();
    edit(dir, 'observability/prometheus.yml', '- /etc/prometheus/alerts.yml', '- /etc/prometheus/alerts.yml\n  - /etc/prometheus/recording.yml');
    expect(errors(runChecks({ root: dir }))).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.prometheus (observability/prometheus.yml)',
      message: 'observability/prometheus.yml refers to /etc/prometheus/recording.yml, which no volume of this service provides',
    });
  });

  it('fails on a literal secret', () => {
    const dir = repoCopy();
    edit(
      dir,
      'docker-compose.yml',
      'GF_SECURITY_ADMIN_PASSWORD: ${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD in .env}',
      'GF_SECURITY_ADMIN_PASSWORD: hunter2',
    );
    expect(errors(runChecks({ root: dir }))).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD',
      message: 'looks like a secret but is not a bare ${VAR} reference (literal values and ${VAR:-default} commit the secret)',
    });
  });

  it('fails on a secret with a committed default and on a literal password inside a URL', () => {
    const dir = repoCopy();
    edit(
      dir,
      'docker-compose.yml',
      'POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}',
      'POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-postgres}',
    );
    edit(dir, 'docker-compose.yml', 'DATABASE_URL: ${DATABASE_URL:?set DATABASE_URL in .env}', 'DATABASE_URL: postgres://turumba:s3cret@postgres:5432/turumba');
    const found = errors(runChecks({ root: dir }));
    expect(found).toContainEqual(expect.objectContaining({ where: 'docker-compose.yml services.postgres.environment.POSTGRES_PASSWORD' }));
    expect(found).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.api.environment.DATABASE_URL',
      message: 'a URL with a literal password: use ${VAR} for the password',
    });
  });

  it('fails on a dangling depends_on', () => {
    const dir = repoCopy();
    edit(
      dir,
      'docker-compose.yml',
      '      temporal-schema:\n        condition: service_completed_successfully',
      '      temporal-schemas:\n        condition: service_completed_successfully',
    );
    expect(errors(runChecks({ root: dir }))).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.temporal.depends_on.temporal-schemas',
      message: 'depends on "temporal-schemas", which is not a service in this file',
    });
  });

  it('fails when service_healthy waits on a service without a healthcheck', () => {
    const dir = repoCopy();
    edit(
      dir,
      'docker-compose.yml',
      '    healthcheck:\n      test: ["CMD", "redis-cli", "ping"]\n      interval: 5s\n      timeout: 3s\n      retries: 20\n',
      '',
    );
    expect(errors(runChecks({ root: dir }))).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.jasmin.depends_on.jasmin-redis',
      message: 'waits for "jasmin-redis" to be healthy, but "jasmin-redis" has no healthcheck',
    });
  });

  it('fails when the scalable worker gets a container_name or a fixed host port', () => {
    const dir = repoCopy();
    edit(dir, 'docker-compose.yml', '    command: ["worker"]\n', '    command: ["worker"]\n    container_name: worker\n    ports:\n      - "9464:9464"\n');
    const found = errors(runChecks({ root: dir }));
    expect(found).toContainEqual({ level: 'error', where: 'docker-compose.yml services.worker', message: 'a scalable service cannot set container_name' });
    expect(found).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.worker.ports',
      message: 'a scalable service cannot publish fixed host port 9464',
    });
  });

  it('fails on an undeclared named volume, a bad healthcheck and a misspelt key', () => {
    const dir = repoCopy();
    edit(dir, 'docker-compose.yml', '      - grafana-data:/var/lib/grafana', '      - grafana-state:/var/lib/grafana');
    edit(
      dir,
      'docker-compose.yml',
      '      interval: 10s\n      timeout: 5s\n      retries: 10\n    logging: *logging\n\n  grafana:',
      '      interval: ten\n      timeout: 5s\n      retries: 10\n    logging: *logging\n\n  grafana:',
    );
    edit(dir, 'docker-compose.yml', '    stop_grace_period: 30s', '    stop_grace_periods: 30s');
    const found = errors(runChecks({ root: dir }));
    expect(found).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.grafana.volumes',
      message: 'named volume "grafana-state" is not declared under top-level volumes',
    });
    expect(found).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.prometheus.healthcheck.interval',
      message: 'must be a duration like 10s or 1m30s (got "ten")',
    });
    expect(found).toContainEqual({ level: 'error', where: 'docker-compose.yml services.api', message: 'unknown key "stop_grace_periods"' });
  });

  it('fails when a one-shot step that others wait for restarts forever', () => {
    const dir = repoCopy();
    edit(dir, 'docker-compose.yml', '    command: ["migrate"]\n    restart: "no"', '    command: ["migrate"]\n    restart: unless-stopped');
    expect(errors(runChecks({ root: dir }))).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.api.depends_on.migrate',
      message: 'waits for "migrate" to complete, but its restart policy "unless-stopped" restarts it forever',
    });
  });

  it('fails when .env.example misses a variable the compose file or the config reads', () => {
    const dir = repoCopy();
    edit(dir, '.env.example', 'GRAFANA_HOST_PORT=3001\n', '');
    edit(dir, 'config/index.ts', "str('LOG_LEVEL'", "str('LOG_FORMAT'");
    const found = errors(runChecks({ root: dir }));
    expect(found).toContainEqual({
      level: 'error',
      where: '.env.example',
      message: 'docker-compose.yml uses ${GRAFANA_HOST_PORT}, which .env.example does not list',
    });
    expect(found).toContainEqual(expect.objectContaining({ message: expect.stringContaining('config/index.ts reads LOG_FORMAT') as string }));
    expect(found).toContainEqual({
      level: 'error',
      where: 'docker-compose.yml services.worker.environment',
      message: 'does not pass LOG_FORMAT, which config/index.ts reads',
    });
  });

  it('fails on a real secret in .env.example', () => {
    const dir = repoCopy();
    edit(dir, '.env.example', 'GRAFANA_ADMIN_PASSWORD=change-me-grafana-admin', 'GRAFANA_ADMIN_PASSWORD=Winter2024!');
    expect(errors(runChecks({ root: dir }))).toContainEqual({
      level: 'error',
      where: '.env.example GRAFANA_ADMIN_PASSWORD',
      message: 'a secret must hold a change-me placeholder, not a value',
    });
  });

  it('fails on invalid YAML instead of passing silently', () => {
    const dir = repoCopy();
    edit(dir, 'docker-compose.yml', 'services:\n', 'services:\n  broken: [\n');
    const found = errors(runChecks({ root: dir }));
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]?.message).toMatch(/^YAML: /);
  });
});
