import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { Keyring } from '../../db/credentials-crypto';
import { startInfra } from './infra';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    databaseUrl: string;
    workflowBundlePath: string;
  }
}

/** One real Temporal dev server, one fresh Postgres database and one workflow bundle for the whole run. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // One credentials key per run, inherited by test workers and the processes they spawn.
  process.env.CREDENTIALS_KEY ??= Keyring.generateKey();
  const running = await startInfra();
  project.provide('temporalAddress', running.infra.temporalAddress);
  project.provide('databaseUrl', running.infra.databaseUrl);
  project.provide('workflowBundlePath', running.infra.workflowBundlePath);
  return () => running.stop();
}
