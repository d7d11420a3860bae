// SendGrid's Event Webhook: a JSON array of events, signed with ECDSA P-256 over
// timestamp + raw body. https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { WebhookPayloadError, type StatusUpdate, type WebhookRequest } from '../types';
import type { MessageStatus } from '../../lifecycle';
import { isUuid, messageIdFromHeader } from './address';
import { header, isObject, jsonBody, str, timeOf } from './webhook-body';

export const SENDGRID_SIGNATURE_HEADER = 'X-Twilio-Email-Event-Webhook-Signature';
export const SENDGRID_TIMESTAMP_HEADER = 'X-Twilio-Email-Event-Webhook-Timestamp';
/** The custom argument (X-SMTPAPI unique_args) that carries our id into every event, opens included. */
export const SENDGRID_ID_ARG = 'turumba_message_id';
/** SendGrid signs each POST when it sends it (retries included): an older timestamp is a replay. */
export const SENDGRID_MAX_AGE_S = 10 * 60;
/** Clocks differ a little; a timestamp further ahead than this was not signed now. */
export const SENDGRID_MAX_SKEW_S = 5 * 60;

/**
 * Events that move a message. Not here, so ignored: processed (accepted by SendGrid,
 * we are `sent` already), deferred (SendGrid retries for up to 72 h), spamreport and
 * (group_)unsubscribe (about the contact, not this message's delivery).
 */
const STATUS: Readonly<Record<string, MessageStatus>> = {
  delivered: 'delivered',
  bounce: 'undelivered',
  dropped: 'undelivered',
  // Image-pixel opens are unreliable (blocked images, privacy proxies that pre-fetch);
  // still the only read signal email has, and a click implies the open.
  open: 'read',
  click: 'read',
};

/** The verification key as SendGrid shows it (base64 DER SubjectPublicKeyInfo), or PEM. Throws when it is not a P-256 key. */
export function sendgridPublicKey(key: string): KeyObject {
  const trimmed = key.trim();
  const k = trimmed.startsWith('-----BEGIN') ? createPublicKey(trimmed) : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
  if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('sendgrid verification key is not an ECDSA P-256 public key');
  }
  return k;
}

export function verifySendGridSignature(req: WebhookRequest, key: KeyObject, now = new Date()): boolean {
  const signature = header(req, SENDGRID_SIGNATURE_HEADER);
  const timestamp = header(req, SENDGRID_TIMESTAMP_HEADER);
  if (!signature || !timestamp || !/^\d{1,12}$/.test(timestamp)) return false;
  const age = Math.floor(now.getTime() / 1000) - Number(timestamp);
  if (age > SENDGRID_MAX_AGE_S || age < -SENDGRID_MAX_SKEW_S) return false;
  const signed = Buffer.concat([Buffer.from(timestamp, 'utf8'), req.rawBody]);
  return verify('sha256', signed, { key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
}

export function parseSendGridEvents(req: WebhookRequest): StatusUpdate[] {
  const events = jsonBody(req);
  if (!Array.isArray(events)) throw new WebhookPayloadError('sendgrid event webhook body must be a JSON array');
  const updates: StatusUpdate[] = [];
  for (const event of events) {
    if (!isObject(event) || typeof event.event !== 'string') {
      throw new WebhookPayloadError('sendgrid event lacks its `event` name');
    }
    // Own keys only: '__proto__' or 'constructor' would find Object.prototype's members.
    const status = Object.hasOwn(STATUS, event.event) ? STATUS[event.event] : undefined;
    if (!status) continue;
    const smtpId = str(event, 'smtp-id');
    const update: StatusUpdate = {
      providerMessageId: smtpId ?? str(event, 'sg_message_id') ?? '',
      status,
      occurredAt: timeOf(event.timestamp),
    };
    const ours = event[SENDGRID_ID_ARG];
    const messageId = isUuid(ours) ? ours.toLowerCase() : messageIdFromHeader(smtpId);
    if (messageId) update.messageId = messageId;
    if (status === 'undelivered') {
      // A "blocked" bounce is the receiver refusing the sender (reputation, policy), not a bad address.
      update.errorCode = `sendgrid_${event.event === 'bounce' && event.type === 'blocked' ? 'blocked' : event.event}`;
      const reason = [str(event, 'status'), str(event, 'reason')].filter(Boolean).join(' ');
      if (reason) update.errorMessage = reason;
    }
    updates.push(update);
  }
  return updates;
}
