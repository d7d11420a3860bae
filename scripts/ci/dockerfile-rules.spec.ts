import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDockerfile } from './dockerfile-rules';
import { Findings } from './findings';
import { edit, removeCopies, REPO, repoCopy } from './test-support';

function check(root: string) {
  const findings = new Findings();
  const report = checkDockerfile(root, 'Dockerfile', findings);
  return { report, errors: findings.errors };
}

afterEach(removeCopies);

describe('checkDockerfile', () => {
  it('accepts the committed Dockerfile and sees its HEALTHCHECK', () => {
    const { report, errors } = check(REPO);
    expect(errors).toEqual([]);
    expect(report.hasHealthcheck).toBe(true);
  });

  it('fails when the script behind HEALTHCHECK or ENTRYPOINT is missing', () => {
    const dir = repoCopy();
    rmSync(join(dir, 'scripts', 'docker', 'healthcheck.sh'));
    expect(check(dir).errors).toContainEqual(
      expect.objectContaining({ message: '/app/scripts/docker/healthcheck.sh comes from scripts/docker/healthcheck.sh, which does not exist' }),
    );
  });

  it('fails when ENTRYPOINT names a file no COPY puts in the image', () => {
    const dir = repoCopy();
    edit(dir, 'Dockerfile', '"/app/scripts/docker/entrypoint.sh"]', '"/app/bin/entrypoint.sh"]');
    expect(check(dir).errors).toContainEqual(
      expect.objectContaining({ message: '/app/bin/entrypoint.sh is not copied into the image from the build context' }),
    );
  });

  it('fails when the entry script runs dist/<x>.js without a <x>.ts source', () => {
    const dir = repoCopy();
    renameSync(join(dir, 'worker', 'main.ts'), join(dir, 'worker', 'start.ts'));
    expect(check(dir).errors).toContainEqual({
      level: 'error',
      where: 'scripts/docker/entrypoint.sh',
      message: 'runs dist/worker/main.js, but worker/main.ts does not exist',
    });
  });

  it('fails when .dockerignore drops a COPY source or a file the build needs', () => {
    const dir = repoCopy();
    edit(dir, '.dockerignore', 'db/**/*.md\n', 'db/**/*.md\nscripts/docker\ndb/partitions.sql\n');
    const { errors } = check(dir);
    expect(errors).toContainEqual(expect.objectContaining({ message: 'source scripts/docker is excluded by .dockerignore (scripts/docker)' }));
    expect(errors).toContainEqual({
      level: 'error',
      where: '.dockerignore',
      message: 'excludes db/partitions.sql, which `npm run build` needs (db/partitions.sql)',
    });
  });

  it('fails when the .dockerignore allowlist forgets a folder tsconfig.build.json compiles', () => {
    const dir = repoCopy();
    edit(dir, '.dockerignore', '!worker\n', '');
    expect(check(dir).errors).toContainEqual({
      level: 'error',
      where: '.dockerignore',
      message: 'excludes worker, which `npm run build` needs (*)',
    });
  });

  it('fails when .dockerignore lets .env into the build context', () => {
    const dir = repoCopy();
    edit(dir, '.dockerignore', '!package.json\n', '!package.json\n!.env\n');
    expect(check(dir).errors).toContainEqual({
      level: 'error',
      where: '.dockerignore',
      message: 'must exclude .env (it would be sent to the build and may end up in the image)',
    });
  });

  it('fails without a non-root USER or a HEALTHCHECK, and on COPY --from an unknown stage', () => {
    const dir = repoCopy();
    edit(dir, 'Dockerfile', 'USER node\n', '');
    edit(dir, 'Dockerfile', 'HEALTHCHECK --interval', 'HEALTHCHECK NONE\n# --interval');
    edit(dir, 'Dockerfile', 'COPY --from=prod-deps', 'COPY --from=prod-dependencies');
    const { report, errors } = check(dir);
    expect(report.hasHealthcheck).toBe(false);
    const messages = errors.map((e) => e.message);
    expect(messages).toContain('must switch to a non-root USER');
    expect(messages).toContain('needs a HEALTHCHECK');
    expect(messages).toContain('--from=prod-dependencies is not an earlier stage');
  });
});
