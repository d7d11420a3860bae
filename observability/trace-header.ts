import { defaultPayloadConverter, type Headers } from '@temporalio/common';

// Shared by the client, workflow and activity interceptors. Workflow-safe: it is bundled into
// the workflow code, so it imports nothing but @temporalio/common.

/** Temporal header that carries a message's trace id: start → workflow → activities and children. */
export const TRACE_HEADER = 'turumba-trace-id';

export function withTraceHeader(headers: Headers, traceId: string | undefined): Headers {
  if (!traceId || headers[TRACE_HEADER]) return headers;
  return { ...headers, [TRACE_HEADER]: defaultPayloadConverter.toPayload(traceId) };
}

/** The trace id in a set of headers; undefined when there is none or it is not a non-empty string. */
export function traceIdOf(headers: Headers): string | undefined {
  const payload = headers[TRACE_HEADER];
  if (!payload) return undefined;
  try {
    const value: unknown = defaultPayloadConverter.fromPayload(payload);
    return typeof value === 'string' && value !== '' ? value : undefined;
  } catch {
    return undefined;
  }
}
