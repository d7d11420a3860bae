import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../observability/trace-worker';

/** Prebuilds the workflow bundle so production workers start without webpack. */
async function main(out: string): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(__dirname, '..', 'workflows', 'index.ts'),
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
  });
  writeFileSync(out, code);
  process.stdout.write(`workflow bundle written to ${out} (${code.length} bytes)\n`);
}

main(process.argv[2] ?? 'dist/workflow-bundle.js').catch((err: unknown) => {
  process.stderr.write(`bundle failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
