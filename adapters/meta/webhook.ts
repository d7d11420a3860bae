// What WhatsApp and Messenger webhooks share: Meta's X-Hub-Signature-256, the
// hub.* subscription handshake, the JSON envelope and the 24-hour window.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookPayloadError, type WebhookRequest, type WebhookResponse } from '../types';

/** Both products allow free-form messages for 24 h after the person last wrote. */
export const CONVERSATION_WINDOW_MS = 24 * 60 * 60 * 1000;

export function windowOpen(lastInboundAt: Date | undefined, now: number): boolean {
  return lastInboundAt !== undefined && now - lastInboundAt.getTime() < CONVERSATION_WINDOW_MS;
}

export function header(req: WebhookRequest, name: string): string | undefined {
  for (const [key, value] of Object.entries(req.headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

/**
 * `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(raw body, app secret)>`, compared in
 * constant time. Anything doubtful — no header, another algorithm, not 64 hex digits — is false.
 * https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads
 */
export function verifyHubSignature(req: WebhookRequest, appSecret: string): boolean {
  try {
    const given = /^sha256=([0-9a-f]{64})$/i.exec(header(req, 'x-hub-signature-256')?.trim() ?? '')?.[1];
    if (!given || !appSecret) return false;
    const expected = createHmac('sha256', appSecret).update(req.rawBody).digest();
    return timingSafeEqual(expected, Buffer.from(given, 'hex'));
  } catch {
    return false;
  }
}

/**
 * Meta's subscription handshake: `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`
 * must echo the challenge when the token is ours. Undefined for any other request.
 */
export function hubChallenge(req: WebhookRequest, verifyToken: string): WebhookResponse | undefined {
  if (req.method.toUpperCase() !== 'GET' || req.query['hub.mode'] === undefined) return undefined;
  const text = { 'content-type': 'text/plain; charset=utf-8' };
  const { 'hub.mode': mode, 'hub.verify_token': token, 'hub.challenge': challenge } = req.query;
  if (mode !== 'subscribe' || typeof token !== 'string' || !sameText(token, verifyToken)) {
    return { status: 403, headers: text, body: 'verify token mismatch' };
  }
  if (typeof challenge !== 'string' || !challenge) return { status: 400, headers: text, body: 'hub.challenge missing' };
  return { status: 200, headers: text, body: challenge };
}

/** Meta only needs a fast 2xx; anything else is retried and, if it persists, the subscription is disabled. */
export function eventReceived(): WebhookResponse {
  return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'EVENT_RECEIVED' };
}

function sameText(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return expected.length > 0 && a.length === b.length && timingSafeEqual(a, b);
}

// Readers for Meta's JSON: each names what it expected, so a 400 says what was wrong.

export type Json = Readonly<Record<string, unknown>>;

/** The envelope, parsed from the signed bytes so no body parser's reading can differ; `object` must match. */
export function envelope(req: WebhookRequest, object: string): Json {
  let body: unknown = req.body;
  if (req.rawBody.length > 0) {
    try {
      body = JSON.parse(req.rawBody.toString('utf8')) as unknown;
    } catch {
      throw new WebhookPayloadError('webhook body is not JSON');
    }
  }
  const root = record(body, 'webhook body');
  if (root.object !== object) throw new WebhookPayloadError(`webhook object must be '${object}'`);
  return root;
}

export function record(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WebhookPayloadError(`${what} must be an object`);
  return value as Json;
}

export function list(value: unknown, what: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new WebhookPayloadError(`${what} must be an array`);
  return value;
}

export function text(value: unknown, what: string): string {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string' || !value) throw new WebhookPayloadError(`${what} must be a non-empty string`);
  return value;
}

export function optionalText(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : typeof value === 'number' ? String(value) : undefined;
}

/** Meta sends epoch times as numbers or numeric strings, in seconds (WhatsApp) or milliseconds (Messenger). */
export function epoch(value: unknown, unitMs: 1 | 1000, what: string): Date {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  const at = typeof n === 'number' && n >= 0 ? new Date(n * unitMs) : undefined;
  // Past year 275760 a Date is invalid, and an invalid one fails every later toISOString.
  if (!at || Number.isNaN(at.getTime())) throw new WebhookPayloadError(`${what} must be an epoch time`);
  return at;
}

/**
 * The webhook half both Meta products share: X-Hub-Signature-256 with the app secret,
 * the hub.challenge subscription handshake, and a plain 200 answer.
 */
export abstract class MetaWebhookAdapter {
  verifyWebhookSignature(req: WebhookRequest, secret: string): boolean {
    return verifyHubSignature(req, secret);
  }

  /** Meta signs every webhook with the app secret. */
  webhookSigningSecret(credentials: Readonly<Record<string, string | undefined>>): string | undefined {
    return credentials.app_secret;
  }

  verificationChallenge(req: WebhookRequest, verifyToken: string): WebhookResponse | undefined {
    return hubChallenge(req, verifyToken);
  }

  webhookResponse(): WebhookResponse {
    return eventReceived();
  }
}
