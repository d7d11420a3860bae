import { PermanentSendError, RateLimitedError, SendError, TransientSendError, type SendErrorClass } from '../types';
import { EgressRefusedError, unreachable } from '../egress';
import { graphFetch, GraphTransportError, type GraphCall, type GraphResponse, type GraphTarget } from './graph-client';

/** Graph's error body: `{error: {message, type, code, error_subcode, error_data, fbtrace_id}}`. */
export interface GraphError {
  httpStatus: number;
  code?: number;
  subcode?: number;
  type?: string;
  message: string;
  details?: string;
  fbtraceId?: string;
}

export interface GraphErrorRule {
  retry: SendErrorClass;
  reason: string;
  /** Wait when a rate-limit answer carries neither Retry-After nor a usage header. */
  retryAfterMs?: number;
}

/** Keyed by `code` or, where a subcode changes the meaning, `code/subcode`. */
export type GraphErrorTable = Readonly<Record<string, GraphErrorRule>>;

/**
 * Codes every Graph product shares.
 * https://developers.facebook.com/docs/graph-api/guides/error-handling
 */
export const GRAPH_ERRORS: GraphErrorTable = {
  '1': { retry: 'transient', reason: 'unknown API error, possibly downtime' },
  '2': { retry: 'transient', reason: 'service temporarily unavailable' },
  '4': { retry: 'rate_limited', reason: 'application request limit reached', retryAfterMs: 60_000 },
  '10': { retry: 'permanent', reason: 'permission denied' },
  '17': { retry: 'rate_limited', reason: 'user request limit reached', retryAfterMs: 60_000 },
  '100': { retry: 'permanent', reason: 'invalid parameter' },
  '190': { retry: 'permanent', reason: 'access token invalid or expired' },
  '200': { retry: 'permanent', reason: 'permission missing' },
  '341': { retry: 'rate_limited', reason: 'application limit reached', retryAfterMs: 60_000 },
  '368': { retry: 'permanent', reason: 'temporarily blocked for policy violations' },
  '613': { retry: 'rate_limited', reason: 'calls to this API exceeded the rate limit', retryAfterMs: 60_000 },
};

const DEFAULT_RETRY_AFTER_MS = 1000;

export function readGraphError(res: GraphResponse): GraphError {
  const error = (res.body as { error?: Record<string, unknown> } | undefined)?.error;
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
  const data = error?.error_data as { details?: unknown } | undefined;
  return {
    httpStatus: res.status,
    code: num(error?.code),
    subcode: num(error?.error_subcode),
    type: str(error?.type),
    message: str(error?.message) ?? `HTTP ${res.status} without a Graph error body`,
    details: str(data?.details),
    fbtraceId: str(error?.fbtrace_id),
  };
}

/**
 * Translates a failed Graph call into our retry classes: the product's table first,
 * then the HTTP status (429 rate limited, 5xx/408 transient, other 4xx permanent).
 * The error code is Graph's code (`code/subcode` when the table matched on both).
 */
export function graphSendError(product: string, res: GraphResponse, table: GraphErrorTable): SendError {
  const err = readGraphError(res);
  const pair = err.code !== undefined && err.subcode !== undefined ? `${err.code}/${err.subcode}` : undefined;
  const key = pair && table[pair] ? pair : err.code !== undefined && table[String(err.code)] ? String(err.code) : undefined;
  const rule = key ? table[key] : undefined;
  const retry: SendErrorClass =
    rule?.retry ?? (err.httpStatus === 429 ? 'rate_limited' : err.httpStatus >= 500 || err.httpStatus === 408 ? 'transient' : 'permanent');
  const detail =
    `${product} HTTP ${err.httpStatus}` +
    (err.code !== undefined ? ` code ${err.code}${err.subcode !== undefined ? `/${err.subcode}` : ''}` : '') +
    (rule ? ` (${rule.reason})` : '') +
    `: ${err.message}` +
    (err.details ? ` — ${err.details}` : '') +
    (err.fbtraceId ? ` [fbtrace_id ${err.fbtraceId}]` : '');
  const code = key ?? (err.code !== undefined ? String(err.code) : `http_${err.httpStatus}`);

  switch (retry) {
    case 'rate_limited':
      return new RateLimitedError(detail, code, retryAfterMs(res.headers, rule?.retryAfterMs), { cause: err });
    case 'transient':
      return new TransientSendError(detail, code, { cause: err });
    case 'permanent':
      return new PermanentSendError(detail, code, { cause: err });
  }
}

/** A send through the Graph API: a 2xx response, or the send error its failure maps to. */
export async function graphSend(product: string, target: GraphTarget, call: GraphCall, table: GraphErrorTable): Promise<GraphResponse> {
  let res: GraphResponse;
  try {
    res = await graphFetch(target, call);
  } catch (err) {
    throw transportSendError(product, err);
  }
  if (res.status < 200 || res.status >= 300) throw graphSendError(product, res, table);
  return res;
}

/** What a credentials check says when the Graph API could not be asked at all. */
export function unreachableDetail(err: unknown): string {
  if (err instanceof EgressRefusedError) return `egress_refused: ${err.message}`;
  return unreachable('graph api');
}

/** A failed check's answer: specific only when it carries a Graph error code, else the same words as no answer. */
export function checkFailureDetail(res: GraphResponse, specific: (err: GraphError, code: string) => string | undefined): string {
  const err = readGraphError(res);
  if (err.code === undefined) return unreachable('graph api');
  const code = `${err.code}${err.subcode === undefined ? '' : `/${err.subcode}`}`;
  if (err.code === 190) return `authentication failed (${code})`;
  return specific(err, code) ?? `graph api answered HTTP ${res.status} (${code})`;
}

export function transportSendError(product: string, err: unknown): SendError {
  if (err instanceof SendError) return err;
  if (err instanceof GraphTransportError) {
    return new TransientSendError(`${product} request ${err.kind}: ${err.message}`, err.kind, { cause: err });
  }
  return new TransientSendError(`${product} client error: ${err instanceof Error ? err.message : String(err)}`, 'client_error', {
    cause: err,
  });
}

/**
 * Retry-After (delta-seconds or an HTTP date), else Meta's business-use-case usage
 * header (estimated_time_to_regain_access, in minutes), else the rule's default.
 */
export function retryAfterMs(headers: Headers, fallbackMs = DEFAULT_RETRY_AFTER_MS, now = Date.now()): number {
  const value = headers.get('retry-after')?.trim();
  if (value && /^\d+$/.test(value)) return Number(value) * 1000;
  if (value) {
    const at = Date.parse(value);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const regain = regainMinutes(headers.get('x-business-use-case-usage'));
  return regain !== undefined && regain > 0 ? regain * 60_000 : fallbackMs;
}

function regainMinutes(usage: string | null): number | undefined {
  if (!usage) return undefined;
  try {
    const parsed = JSON.parse(usage) as Record<string, Array<{ estimated_time_to_regain_access?: unknown }>>;
    const minutes = Object.values(parsed)
      .flat()
      .map((u) => u.estimated_time_to_regain_access)
      .filter((m): m is number => typeof m === 'number');
    return minutes.length > 0 ? Math.max(...minutes) : undefined;
  } catch {
    return undefined;
  }
}
