// Static checks of the deployment files, for CI machines without a Docker engine:
//   npx tsx scripts/ci/check-compose.ts [--root <dir>]
// docker-compose.yml (compose essentials, topology, secrets, every mounted or referenced
// file present), Dockerfile + .dockerignore, and .env.example. Exit 1 on any error.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkFiles } from './compose-files';
import { loadCompose } from './compose-model';
import { checkStructure } from './compose-rules';
import { checkSecrets } from './compose-secrets';
import { checkDockerfile } from './dockerfile-rules';
import { checkEnvExample, loadEnvExample } from './env-example-rules';
import { Findings, type Finding } from './findings';

export interface CheckOptions {
  root: string;
  composeFile?: string;
  dockerfile?: string;
  /** Repository files other work will add; missing ones are warnings, not errors. */
  pending?: string[];
  /** Services that must scale with `--scale`. */
  scalable?: string[];
  /** Services running our image's api/worker/migrate: they must receive every config variable. */
  appServices?: string[];
}

export const DEFAULTS = {
  composeFile: 'docker-compose.yml',
  dockerfile: 'Dockerfile',
  pending: ['observability/alerts.yml'],
  scalable: ['worker'],
  appServices: ['api', 'worker', 'migrate'],
} as const;

export function runChecks(opts: CheckOptions): Finding[] {
  const findings = new Findings();
  const root = resolve(opts.root);
  const composeFile = opts.composeFile ?? DEFAULTS.composeFile;
  const dockerfile = checkDockerfile(root, opts.dockerfile ?? DEFAULTS.dockerfile, findings);
  const example = loadEnvExample(root);
  const model = loadCompose(root, composeFile, Object.fromEntries(example?.active ?? []), findings);
  if (model) {
    checkStructure(model, { scalable: [...(opts.scalable ?? DEFAULTS.scalable)], imageHasHealthcheck: () => dockerfile.hasHealthcheck }, findings);
    checkSecrets(model, findings);
    checkFiles(model, { pending: [...(opts.pending ?? DEFAULTS.pending)] }, findings);
  }
  checkEnvExample(root, model, [...(opts.appServices ?? DEFAULTS.appServices)], findings);
  return findings.list;
}

function main(): number {
  const { values } = parseArgs({ options: { root: { type: 'string', default: '.' } }, strict: true });
  const found = runChecks({ root: values.root ?? '.' });
  for (const f of found) process.stdout.write(`${f.level === 'error' ? 'ERROR' : 'warn '} ${f.where}: ${f.message}\n`);
  const errors = found.filter((f) => f.level === 'error').length;
  process.stdout.write(`check-compose: ${errors} error(s), ${found.length - errors} warning(s)\n`);
  return errors > 0 ? 1 : 0;
}

if (require.main === module) process.exit(main());
