// Twilio's webhook wire format: how to tell an inbound message from a status
// callback, read its fields, and rebuild what Twilio signed.
import { WebhookPayloadError, type WebhookRequest } from '../types';
import type { MessageStatus } from '../../lifecycle';

/** Twilio message statuses → ours. https://www.twilio.com/docs/messaging/api/message-resource#message-status-values */
export const STATUS_MAP: Readonly<Record<string, MessageStatus>> = {
  accepted: 'queued',
  scheduled: 'queued',
  queued: 'queued',
  sending: 'sending',
  sent: 'sent',
  delivered: 'delivered',
  // Group MMS: some recipients got it; nothing more will happen for this message.
  partially_delivered: 'delivered',
  read: 'read',
  undelivered: 'undelivered',
  failed: 'failed',
  canceled: 'failed',
};

/** Statuses Twilio puts on an *inbound* message webhook (SmsStatus=received). */
const INBOUND_STATUSES = new Set(['received', 'receiving']);

export type Form = Readonly<Record<string, unknown>>;

export function formOf(req: WebhookRequest): Form {
  const { body } = req;
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Buffer.isBuffer(body)) {
    throw new WebhookPayloadError('twilio webhook body must be form fields');
  }
  return body as Form;
}

/** Form parsers turn a repeated key into an array; Twilio never repeats the fields we read. */
export function field(form: Form, name: string): string | undefined {
  const value = form[name];
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

export function statusOf(form: Form): string | undefined {
  return field(form, 'MessageStatus') ?? field(form, 'SmsStatus');
}

/** Inbound messages also carry SmsStatus (=received), so the value decides, not its presence. */
export function isStatusCallback(form: Form): boolean {
  const status = statusOf(form);
  return status !== undefined && !INBOUND_STATUSES.has(status);
}

/** RawDlrDoneDate is the carrier's YYMMDDhhmm, without a zone; Twilio documents none, so read it as UTC. */
export function parseDlrDoneDate(value: string | undefined): Date | undefined {
  const m = value ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value) : null;
  if (!m) return undefined;
  const [year, month, day, hour, minute] = m.slice(1).map(Number) as [number, number, number, number, number];
  const at = new Date(Date.UTC(2000 + year, month - 1, day, hour, minute));
  // Date.UTC rolls out-of-range parts over (day 32 → next month); a value that does not round-trip is no date.
  return at.getUTCMonth() === month - 1 && at.getUTCDate() === day && at.getUTCHours() === hour ? at : undefined;
}

export function header(req: WebhookRequest, name: string): string | undefined {
  for (const [key, value] of Object.entries(req.headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

/** Twilio signs the form fields as sent; re-parse the raw bytes so no body parser's reading can differ. */
export function signedParams(req: WebhookRequest): Record<string, string | string[]> {
  if (req.method.toUpperCase() === 'GET') return {};
  if (req.rawBody.length === 0) return (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, string>;
  const params: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(req.rawBody.toString('utf8'))) {
    const seen = params[key];
    params[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return params;
}
