import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { runWithTraceId } from './trace-context';
import { TRACE_HEADER, traceIdOf } from './trace-header';

/**
 * Binds the trace id the workflow put in the activity's headers to the activity's async
 * context: every pino line the activity writes carries it (logger.ts), and so does every
 * line of the SDK's own activity logger.
 */
export const traceActivityInterceptors: ActivityInterceptorsFactory = () => {
  let traceId: string | undefined;
  return {
    inbound: {
      execute: (input, next) => {
        traceId = traceIdOf(input.headers);
        return traceId ? runWithTraceId(traceId, () => next(input)) : next(input);
      },
    },
    outbound: {
      getLogAttributes: (input, next) => next(traceId ? { ...input, trace_id: traceId } : input),
    },
  };
};

/**
 * Workflow interceptor modules, for bundleWorkflowCode({ workflowInterceptorModules }) and
 * WorkerOptions. Extensionless: the bundler finds the .ts source or the compiled .js.
 */
export const WORKFLOW_INTERCEPTOR_MODULES: string[] = [join(__dirname, 'trace-workflow-interceptors')];

/**
 * Whether a prebuilt workflow bundle was built with WORKFLOW_INTERCEPTOR_MODULES: the SDK
 * ignores WorkerOptions' workflow modules for a bundle, so without them trace ids would
 * silently stop at the workflow.
 */
export function bundleCarriesTraceInterceptors(bundlePath: string): boolean {
  return readFileSync(bundlePath, 'utf8').includes(TRACE_HEADER);
}
