import {
  Client,
  type Next,
  type WorkflowClientInterceptor,
  type WorkflowSignalWithStartInput,
  type WorkflowStartInput,
  type WorkflowStartOutput,
  type WorkflowStartUpdateWithStartInput,
  type WorkflowStartUpdateWithStartOutput,
} from '@temporalio/client';
import { withTraceHeader } from './trace-header';

/** Every start carries its trace id in the headers; the id comes from the start's memo (`trace_id`), set by all our starts. */
export class TraceClientInterceptor implements WorkflowClientInterceptor {
  async startWithDetails(input: WorkflowStartInput, next: Next<WorkflowClientInterceptor, 'startWithDetails'>): Promise<WorkflowStartOutput> {
    return next({ ...input, headers: withTraceHeader(input.headers, memoTraceId(input.options.memo)) });
  }

  async signalWithStart(input: WorkflowSignalWithStartInput, next: Next<WorkflowClientInterceptor, 'signalWithStart'>): Promise<string> {
    return next({ ...input, headers: withTraceHeader(input.headers, memoTraceId(input.options.memo)) });
  }

  async startUpdateWithStart(
    input: WorkflowStartUpdateWithStartInput,
    next: Next<WorkflowClientInterceptor, 'startUpdateWithStart'>,
  ): Promise<WorkflowStartUpdateWithStartOutput> {
    return next({ ...input, workflowStartHeaders: withTraceHeader(input.workflowStartHeaders, memoTraceId(input.workflowStartOptions.memo)) });
  }
}

function memoTraceId(memo: Record<string, unknown> | undefined): string | undefined {
  const value = memo?.trace_id;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The same client (connection, namespace, converter) with the trace interceptor added, or
 * the client itself when it has it. The API and the worker apply it to whatever client
 * they are given, so no start of theirs can go out without the header.
 */
export function withTraceHeaders(client: Client): Client {
  const current = client.options.interceptors.workflow;
  const list = Array.isArray(current) ? current : [];
  if (list.some((i) => i instanceof TraceClientInterceptor)) return client;
  return new Client({
    connection: client.connection,
    namespace: client.options.namespace,
    identity: client.options.identity,
    dataConverter: client.options.dataConverter,
    workflow: client.options.workflow,
    interceptors: { ...client.options.interceptors, workflow: [...list, new TraceClientInterceptor()] },
  });
}
