import { PermanentSendError, RateLimitedError, SendError, TransientSendError, type SendErrorClass } from '../types';
import { TwilioTransportError } from './twilio-http-client';

/**
 * Twilio REST error codes whose retry class is not what the HTTP status alone
 * says, plus the common permanent ones so a log reader sees a reason.
 * https://www.twilio.com/docs/api/errors
 */
export const TWILIO_ERROR_CODES: Readonly<Record<string, { retry: SendErrorClass; reason: string }>> = {
  '20003': { retry: 'permanent', reason: 'authentication failed' },
  '20404': { retry: 'permanent', reason: 'resource not found (wrong account sid?)' },
  '20429': { retry: 'rate_limited', reason: 'too many requests' },
  '21211': { retry: 'permanent', reason: "invalid 'To' phone number" },
  '21212': { retry: 'permanent', reason: "invalid 'From' phone number" },
  '21408': { retry: 'permanent', reason: 'permission to send to this region is not enabled' },
  '21602': { retry: 'permanent', reason: 'message body is required' },
  '21603': { retry: 'permanent', reason: "a 'From' number is required" },
  '21606': { retry: 'permanent', reason: "'From' number is not SMS-capable for this account" },
  '21610': { retry: 'permanent', reason: 'recipient unsubscribed (replied STOP)' },
  // The sender's queue is full: the same request succeeds once it drains.
  '21611': { retry: 'rate_limited', reason: "'From' number exceeded its queue of pending messages" },
  '21612': { retry: 'permanent', reason: "cannot route between this 'To' and 'From'" },
  '21614': { retry: 'permanent', reason: "'To' number is not a mobile number" },
  '21617': { retry: 'permanent', reason: 'message body exceeds 1600 characters' },
  '14107': { retry: 'rate_limited', reason: 'message send rate exceeded' },
};

const DEFAULT_RETRY_AFTER_MS = 1000;

export interface TwilioApiError {
  status: number;
  code?: number | string;
  message: string;
}

/** RestException and TwilioServiceException both carry the HTTP status and Twilio's code. */
export function asTwilioApiError(err: unknown): TwilioApiError | undefined {
  if (!(err instanceof Error)) return undefined;
  const { status, code } = err as Error & { status?: unknown; code?: unknown };
  if (typeof status !== 'number') return undefined;
  return {
    status,
    code: typeof code === 'number' || typeof code === 'string' ? code : undefined,
    message: err.message,
  };
}

/** Translates anything the twilio client threw into our retry classes. */
export function toSendError(err: unknown, responseHeaders?: Headers): SendError {
  if (err instanceof SendError) return err;
  if (err instanceof TwilioTransportError) {
    return new TransientSendError(`twilio request ${err.kind}: ${err.message}`, err.kind, { cause: err });
  }
  const api = asTwilioApiError(err);
  if (!api) {
    return new TransientSendError(`twilio client error: ${String(err)}`, 'client_error', { cause: err });
  }

  const twilioCode = api.code === undefined ? undefined : String(api.code);
  const known = twilioCode ? TWILIO_ERROR_CODES[twilioCode] : undefined;
  const retry: SendErrorClass = known?.retry ?? (api.status === 429 ? 'rate_limited' : api.status >= 500 || api.status === 408 ? 'transient' : 'permanent');
  const detail = `twilio HTTP ${api.status}` + (twilioCode ? ` code ${twilioCode}` : '') + (known ? ` (${known.reason})` : '') + `: ${api.message}`;

  switch (retry) {
    case 'rate_limited':
      return new RateLimitedError(detail, twilioCode ?? '20429', retryAfterMs(responseHeaders), { cause: err });
    case 'transient':
      // Twilio's 5xx codes are generic; the HTTP status says more to an operator.
      return new TransientSendError(detail, `http_${api.status}`, { cause: err });
    case 'permanent':
      return new PermanentSendError(detail, twilioCode ?? `http_${api.status}`, { cause: err });
  }
}

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number {
  const value = headers?.get('retry-after')?.trim();
  if (!value) return DEFAULT_RETRY_AFTER_MS;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? DEFAULT_RETRY_AFTER_MS : Math.max(0, at - now);
}
