import { randomUUID } from 'node:crypto';

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;
const TRACE_ID = /^[\w-]{8,64}$/;

/** A W3C traceparent's trace-id, else a sane x-trace-id, else a new one. */
export function traceIdFrom(headers: Record<string, string | string[] | undefined>): string {
  const tp = first(headers.traceparent);
  const m = tp ? TRACEPARENT.exec(tp.trim().toLowerCase()) : null;
  if (m?.[1] && !/^0+$/.test(m[1])) return m[1];
  const x = first(headers['x-trace-id']);
  if (x && TRACE_ID.test(x)) return x;
  // randomUUID draws from a cached entropy pool: no system call per request. 122 random bits.
  return randomUUID().replaceAll('-', '');
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
