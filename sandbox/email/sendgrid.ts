// Plays SendGrid's Event Webhook: event objects in the documented shape and the
// "Signed Event Webhook" signature (ECDSA P-256, SHA-256, over timestamp + body),
// written from SendGrid's documentation on its own (no adapter code).
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';

export interface SendGridKeys {
  privateKey: KeyObject;
  /** The verification key as SendGrid's settings page shows it: base64 DER SubjectPublicKeyInfo. */
  verificationKey: string;
}

export function sendgridKeyPair(): SendGridKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, verificationKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
}

/** Body and headers of one signed Event Webhook POST. */
export function signedSendGridPost(privateKey: KeyObject, events: unknown[], timestamp = Math.floor(Date.now() / 1000)) {
  const body = JSON.stringify(events);
  const signature = sign('sha256', Buffer.from(`${timestamp}${body}`, 'utf8'), { key: privateKey, dsaEncoding: 'der' }).toString('base64');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-twilio-email-event-webhook-signature': signature,
      'x-twilio-email-event-webhook-timestamp': String(timestamp),
      'user-agent': 'SendGrid Event API',
    },
  };
}

export interface SendGridEventFacts {
  email: string;
  /** The message's Message-ID header, angle brackets included (SendGrid's `smtp-id`). */
  smtpId?: string;
  /** unique_args from the X-SMTPAPI header, flattened into the event as SendGrid does. */
  uniqueArgs?: Record<string, string>;
  at?: Date;
}

/** One event in SendGrid's documented shape; `extra` adds the event's own fields (reason, status, type...). */
export function sendgridEvent(event: string, f: SendGridEventFacts, extra: Record<string, unknown> = {}) {
  const engagement = event === 'open' || event === 'click' || event === 'spamreport' || event.endsWith('unsubscribe');
  return {
    email: f.email,
    timestamp: Math.floor((f.at ?? new Date()).getTime() / 1000),
    // Engagement events carry no smtp-id: only unique_args tie them to a message.
    ...(f.smtpId && !engagement ? { 'smtp-id': f.smtpId } : {}),
    event,
    sg_event_id: randomUUID().replace(/-/g, '').slice(0, 22),
    sg_message_id: `${randomUUID().replace(/-/g, '').slice(0, 22)}.filterdrecv-5645d9c87f-6r2vh-1-5EB13AA6-1.0`,
    ...(f.uniqueArgs ?? {}),
    ...extra,
  };
}
