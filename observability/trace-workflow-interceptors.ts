import { workflowInfo, type Headers, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { traceIdOf, withTraceHeader } from './trace-header';

// Workflow interceptor module (bundled with the workflow code: deterministic, no Node APIs).
// Inbound: take the trace id from the start headers. Outbound: put it on every activity,
// local activity, child workflow and continue-as-new, so a group fan-out's children and
// their activities carry the group's trace id, run after run.

export const interceptors: WorkflowInterceptorsFactory = () => {
  // One factory call per workflow execution: this closure is that execution's state.
  let traceId: string | undefined;
  const carry = <T extends { readonly headers: Headers }>(input: T): T => ({ ...input, headers: withTraceHeader(input.headers, traceId) });
  return {
    inbound: [
      {
        execute: (input, next) => {
          // The memo is the fallback for starts made by a client without our interceptor (temporal CLI, old runs).
          const memo = workflowInfo().memo?.trace_id;
          traceId = traceIdOf(input.headers) ?? (typeof memo === 'string' && memo !== '' ? memo : undefined);
          return next(input);
        },
      },
    ],
    outbound: [
      {
        scheduleActivity: (input, next) => next(carry(input)),
        scheduleLocalActivity: (input, next) => next(carry(input)),
        startChildWorkflowExecution: (input, next) => next(carry(input)),
        continueAsNew: (input, next) => next(carry(input)),
        getLogAttributes: (input, next) => next(traceId ? { ...input, trace_id: traceId } : input),
      },
    ],
  };
};
