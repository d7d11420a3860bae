// One HTTP exchange with Jasmin (its HTTP API on :1401 or the management REST
// API), bounded by a timeout and the caller's AbortSignal, and the reading of
// the HTTP API's plain-text answers.
import type { EgressPolicy } from '../egress';
import { SendError } from '../types';

export type TransportFailure = 'timeout' | 'network' | 'aborted';

/** The request never produced an HTTP response (so Jasmin may or may not have queued it). */
export class JasminTransportError extends Error {
  constructor(
    readonly kind: TransportFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'JasminTransportError';
  }
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  /** Sent form-encoded as the body of a POST. */
  form?: URLSearchParams;
  headers?: Record<string, string>;
  timeoutMs: number;
  egress: EgressPolicy;
  signal?: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: string;
}

export async function request(req: HttpRequest): Promise<HttpAnswer> {
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const headers: Record<string, string> = { Accept: 'text/plain, application/json', ...req.headers };
  if (req.form) headers['Content-Type'] = 'application/x-www-form-urlencoded';
  try {
    const res = await req.egress.fetch(req.url, { method: req.method, headers, body: req.form?.toString(), signal });
    return { status: res.status, headers: res.headers, body: res.text };
  } catch (err) {
    if (err instanceof SendError) throw err;
    if (req.signal?.aborted) throw new JasminTransportError('aborted', 'cancelled by caller', { cause: err });
    if (timeout.aborted) throw new JasminTransportError('timeout', `no response within ${req.timeoutMs} ms`, { cause: err });
    throw new JasminTransportError('network', describeNetworkError(err), { cause: err });
  }
}

export type SendReply = { kind: 'success'; messageId: string } | { kind: 'error'; message: string } | { kind: 'other' };

/**
 * /send answers `Success "<message id>"` or `Error "<reason>"` as text/plain
 * (jasmin/protocols/http/endpoints/send.py); anything else did not come from Jasmin's /send.
 */
export function parseSendReply(body: string): SendReply {
  const text = body.trim();
  const success = /^Success "([^"]+)"$/.exec(text);
  if (success?.[1]) return { kind: 'success', messageId: success[1] };
  const error = /^Error "([\s\S]*)"$/.exec(text);
  if (error) return { kind: 'error', message: unwrapBytesRepr(error[1] ?? '') };
  return { kind: 'other' };
}

/** /balance and /rate answer JSON; their errors are a JSON string (`"Authentication failure for username:x"`). */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

/** Jasmin formats some validation messages from Python bytes, which print as b'...'. */
function unwrapBytesRepr(message: string): string {
  const m = /^b'([\s\S]*)'$/.exec(message);
  return m?.[1] ?? message;
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

function describeNetworkError(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  return err instanceof Error ? err.message : String(err);
}
