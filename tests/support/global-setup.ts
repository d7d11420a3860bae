import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
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
  const running = await startInfra();
  project.provide('temporalAddress', running.infra.temporalAddress);
  project.provide('databaseUrl', running.infra.databaseUrl);
  project.provide('workflowBundlePath', running.infra.workflowBundlePath);
  return () => running.stop();
}
