import { createHmac } from 'node:crypto';
import { boundedTimeout, type EgressPolicy } from '../egress';
import { SendError, type Credentials } from '../types';

export const GRAPH_BASE_URL = 'https://graph.facebook.com';
/** Graph versions live about two years; pin one so a Meta release cannot change our wire format. */
export const GRAPH_API_VERSION = 'v25.0';
const DEFAULT_TIMEOUT_MS = 10_000;

export type TransportFailure = 'timeout' | 'network' | 'aborted';

/** The request never produced an HTTP response (so it may or may not have reached Meta). */
export class GraphTransportError extends Error {
  constructor(
    readonly kind: TransportFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GraphTransportError';
  }
}

export interface GraphTarget {
  baseUrl: string;
  version: string;
  timeoutMs: number;
  egress: EgressPolicy;
  accessToken: string;
  /** Signs every call with appsecret_proof, which apps with "Require App Secret" refuse to do without. */
  appSecret?: string;
}

export interface GraphCall {
  method: 'GET' | 'POST';
  /** Below the version, e.g. `123/messages` or `me`. */
  path: string;
  query?: Record<string, string>;
  json?: unknown;
  traceId?: string;
  signal?: AbortSignal;
}

export interface GraphResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or undefined when the body was empty or not JSON (an HTML error page from a proxy). */
  body: unknown;
}

/** base_url, api_version and timeout_ms of a channel, with Meta's defaults. */
export function graphSettings(credentials: Credentials): Pick<GraphTarget, 'baseUrl' | 'version' | 'timeoutMs'> {
  return {
    baseUrl: (credentials.base_url || GRAPH_BASE_URL).replace(/\/+$/, ''),
    version: credentials.api_version || GRAPH_API_VERSION,
    timeoutMs: boundedTimeout(credentials.timeout_ms, DEFAULT_TIMEOUT_MS),
  };
}

/** https://developers.facebook.com/docs/graph-api/securing-requests#appsecret_proof */
export function appSecretProof(accessToken: string, appSecret: string): string {
  return createHmac('sha256', appSecret).update(accessToken).digest('hex');
}

/**
 * One Graph API call. The token travels in the Authorization header, never in the
 * URL, so it cannot end up in an access log; a timeout and the caller's signal bound it.
 */
export async function graphFetch(target: GraphTarget, call: GraphCall): Promise<GraphResponse> {
  const url = new URL(`${target.baseUrl}/${target.version}/${call.path}`);
  for (const [name, value] of Object.entries(call.query ?? {})) url.searchParams.set(name, value);
  if (target.appSecret) url.searchParams.set('appsecret_proof', appSecretProof(target.accessToken, target.appSecret));

  const headers: Record<string, string> = { Authorization: `Bearer ${target.accessToken}`, Accept: 'application/json' };
  if (call.json !== undefined) headers['Content-Type'] = 'application/json';
  if (call.traceId) headers['X-Trace-Id'] = call.traceId;

  const timeout = AbortSignal.timeout(target.timeoutMs);
  const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
  try {
    const res = await target.egress.fetch(url, { method: call.method, headers, body: call.json === undefined ? undefined : JSON.stringify(call.json), signal });
    return { status: res.status, headers: res.headers, body: parseJson(res.text) };
  } catch (err) {
    if (err instanceof SendError) throw err;
    if (call.signal?.aborted) throw new GraphTransportError('aborted', 'cancelled by caller', { cause: err });
    if (timeout.aborted) throw new GraphTransportError('timeout', `no response within ${target.timeoutMs} ms`, { cause: err });
    throw new GraphTransportError('network', describeNetworkError(err), { cause: err });
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function describeNetworkError(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  return err instanceof Error ? err.message : String(err);
}
