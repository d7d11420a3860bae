import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import Response from 'twilio/lib/http/response';
import { SendError } from '../types';
import type { EgressPolicy } from '../egress';

export type TransportFailure = 'timeout' | 'network' | 'aborted';

/** The request never produced an HTTP response (so it may or may not have reached Twilio). */
export class TwilioTransportError extends Error {
  constructor(
    readonly kind: TransportFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TwilioTransportError';
  }
}

export interface RoutingOptions {
  /** Scheme, host and optional path prefix that replace https://api.twilio.com. */
  baseUrl: string;
  timeoutMs: number;
  egress: EgressPolicy;
  traceId?: string;
  signal?: AbortSignal;
}

/**
 * The twilio client's transport, replaced so one call can be pointed at a
 * simulator, bounded by a timeout, cancelled with the activity's AbortSignal
 * and tagged with our trace id. twilio's own RequestClient (axios) offers
 * none of the last three per request, and hides the response headers of a
 * failed call, which we need for Retry-After.
 *
 * One instance per call: the trace id and signal belong to that call. fetch
 * pools connections globally, so this costs no extra sockets.
 */
export class RoutedRequestClient extends twilio.RequestClient {
  /** Headers of the last HTTP response, kept for Retry-After on a 429. */
  lastResponseHeaders: Headers | undefined;

  constructor(private readonly routing: RoutingOptions) {
    super({ timeout: routing.timeoutMs, autoRetry: false });
  }

  override async request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<Response<TData>> {
    const url = new URL(rebase(opts.uri, this.routing.baseUrl));
    appendParams(url.searchParams, opts.params);

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(opts.headers ?? {})) {
      if (value !== undefined && name.toLowerCase() !== 'connection') headers[name] = String(value);
    }
    if (opts.username && opts.password) {
      headers.Authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
    } else if (opts.authStrategy) {
      headers.Authorization = await opts.authStrategy.getAuthString();
    }
    if (this.routing.traceId) headers['X-Trace-Id'] = this.routing.traceId;

    const timeout = AbortSignal.timeout(this.routing.timeoutMs);
    const signal = this.routing.signal ? AbortSignal.any([this.routing.signal, timeout]) : timeout;
    this.lastResponseHeaders = undefined;
    try {
      // Redirects are never followed (the egress policy fails them), whatever allowRedirects says.
      const res = await this.routing.egress.fetch(url, { method: opts.method.toUpperCase(), headers, body: encodeBody(opts.data, headers), signal });
      this.lastResponseHeaders = res.headers;
      // twilio's Version parses a string body itself (JSON.parse), for success and errors alike.
      return new Response<TData>(res.status, res.text as unknown as TData, Object.fromEntries(res.headers));
    } catch (err) {
      if (err instanceof SendError) throw err;
      if (this.routing.signal?.aborted) throw new TwilioTransportError('aborted', 'cancelled by caller', { cause: err });
      if (timeout.aborted) {
        throw new TwilioTransportError('timeout', `no response within ${this.routing.timeoutMs} ms`, { cause: err });
      }
      throw new TwilioTransportError('network', describeNetworkError(err), { cause: err });
    }
  }
}

/** Keeps Twilio's path (/2010-04-01/...) and query, swaps scheme and host for baseUrl's. */
export function rebase(uri: string, baseUrl: string): string {
  const target = new URL(uri);
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  return `${base.origin}${prefix}${target.pathname}${target.search}`;
}

function appendParams(search: URLSearchParams, params: object | undefined): void {
  for (const [name, value] of Object.entries(params ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null) search.append(name, String(item));
    }
  }
}

/** Same wire form as twilio's RequestClient: repeated keys for arrays (qs arrayFormat "repeat"). */
function encodeBody(data: unknown, headers: Record<string, string>): string | undefined {
  if (data === undefined || data === null) return undefined;
  if (headers['Content-Type'] === 'application/json') return JSON.stringify(data);
  const form = new URLSearchParams();
  appendParams(form, data);
  return form.toString();
}

function describeNetworkError(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  return err instanceof Error ? err.message : String(err);
}
