import { PermanentSendError, RateLimitedError, TransientSendError, type SendError, type SendErrorClass } from '../types';
import type { HttpAnswer, JasminTransportError } from './jasmin-http';

interface ErrorRule {
  status: number;
  /** Matched against the text inside `Error "..."`; absent = any text with this status. */
  match?: RegExp;
  retry: SendErrorClass;
  code: string;
  reason: string;
}

/**
 * Jasmin's /send refusals (jasmin/protocols/http/errors.py and the raise sites in
 * endpoints/send.py, validation.py), first match wins. The HTTP status alone is
 * not enough: 403 means a bad password, an exhausted balance or the user's
 * throughput quota, and 412 a missing route or a failover route with no bound connector.
 */
export const JASMIN_SEND_ERRORS: readonly ErrorRule[] = [
  { status: 403, match: /^Authentication failure/i, retry: 'permanent', code: 'jasmin_auth', reason: 'unknown username or wrong password' },
  // ThroughputExceededError: the user's mt_messaging_cred quota http_throughput; the next second is free again.
  { status: 403, match: /throughput exceeded/i, retry: 'rate_limited', code: 'jasmin_throughput', reason: "user's http_throughput quota exceeded" },
  { status: 403, match: /^Cannot charge/i, retry: 'permanent', code: 'jasmin_no_balance', reason: 'balance or sms_count quota exhausted' },
  { status: 403, retry: 'permanent', code: 'jasmin_forbidden', reason: 'refused by Jasmin' },
  {
    status: 400,
    match: /^Authorization failed/i,
    retry: 'permanent',
    code: 'jasmin_not_authorized',
    reason: "user's mt_messaging_cred does not allow this request",
  },
  { status: 400, match: /^Value filter failed/i, retry: 'permanent', code: 'jasmin_filtered', reason: "rejected by the user's value filters" },
  { status: 400, retry: 'permanent', code: 'jasmin_invalid', reason: 'request failed validation' },
  { status: 412, match: /^No route found/i, retry: 'permanent', code: 'jasmin_no_route', reason: 'no MT route matches this user and destination' },
  // A failover route whose connectors are all unbound: the SMSC link may come back.
  { status: 412, retry: 'transient', code: 'jasmin_no_connector', reason: 'no bound connector on the route' },
  { status: 500, retry: 'transient', code: 'jasmin_server_error', reason: 'Jasmin could not queue the message' },
  { status: 503, retry: 'transient', code: 'jasmin_unavailable', reason: 'interceptor not available' },
];

const DEFAULT_RETRY_AFTER_MS = 1000;

/** Translates a refused /send (any non-Success answer) into our retry classes. */
export function sendErrorFromAnswer(answer: HttpAnswer, jasminMessage: string | undefined, secrets: readonly string[]): SendError {
  const text = redact(jasminMessage ?? '', secrets);
  const rule = JASMIN_SEND_ERRORS.find((r) => r.status === answer.status && (!r.match || r.match.test(text)));
  const retry: SendErrorClass =
    rule?.retry ?? (answer.status === 429 ? 'rate_limited' : answer.status >= 500 || answer.status === 408 ? 'transient' : 'permanent');
  const code = rule?.code ?? `http_${answer.status}`;
  const detail = `jasmin HTTP ${answer.status}` + (rule ? ` (${rule.reason})` : '') + (jasminMessage === undefined ? ': not a Jasmin answer' : `: ${text}`);

  switch (retry) {
    case 'rate_limited':
      return new RateLimitedError(detail, code, retryAfterMs(answer.headers));
    case 'transient':
      return new TransientSendError(detail, code);
    case 'permanent':
      return new PermanentSendError(detail, code);
  }
}

export function sendErrorFromTransport(err: JasminTransportError): SendError {
  return new TransientSendError(`jasmin request ${err.kind}: ${err.message}`, err.kind, { cause: err });
}

/** Jasmin echoes an invalid argument's value ("Argument [password] has an invalid value: [...]"). */
export function redact(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((acc, s) => acc.split(s).join('***'), text);
}

/** Jasmin sends no Retry-After; a proxy in front of it might. */
function retryAfterMs(headers: Headers): number {
  const value = headers.get('retry-after')?.trim();
  return value && /^\d+$/.test(value) ? Number(value) * 1000 : DEFAULT_RETRY_AFTER_MS;
}
