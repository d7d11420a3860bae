// Amazon SES notifications delivered by SNS over HTTP(S).
// Envelope and signature: https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
// SES payloads: https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html (identity
// notifications, `notificationType`) and event publishing (configuration sets, `eventType`).
import { verify, X509Certificate } from 'node:crypto';
import { WebhookPayloadError, type StatusUpdate, type WebhookRequest } from '../types';
import type { MessageStatus } from '../../lifecycle';
import { isUuid, messageIdFromHeader } from './address';
import { isObject, jsonBody, obj, str, timeOf, type Json } from './webhook-body';

/** The SES message tag (X-SES-MESSAGE-TAGS) that carries our id into event-publishing events. */
export const SES_ID_TAG = 'turumba_message_id';
export const ID_HEADER = 'X-Turumba-Message-Id';

const SIGNED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};
const DIGESTS: Readonly<Record<string, string>> = { '1': 'sha1', '2': 'sha256' };
const SNS_CERT_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;
/** SNS retries an HTTP delivery for up to an hour at most; anything older is a replay. */
export const SNS_MAX_AGE_MS = 60 * 60 * 1000;
/** Clocks differ a little; a message stamped further ahead than this was not signed by SNS now. */
export const SNS_MAX_SKEW_MS = 5 * 60 * 1000;
const TOPIC_ARN = /^arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

/** Why `value` cannot be a channel's sns_topic_arn, or undefined when it can. */
export function topicArnProblem(value: string | undefined): string | undefined {
  if (!value)
    return "is required when events_provider is ses: the SNS signing certificate is shared by every AWS customer, so only the topic tells our events from anyone else's";
  return TOPIC_ARN.test(value) ? undefined : 'must be an SNS topic ARN (arn:aws:sns:<region>:<account id>:<topic name>)';
}

/** The certificates in a PEM bundle (pasting old + new during a rotation keeps events flowing). */
export function parseCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate found');
  return blocks.map((b) => new X509Certificate(b));
}

/** The string SNS signed: "Name\nvalue\n" for each present signed field, in byte order of the names. */
export function snsStringToSign(envelope: Json): string | undefined {
  const fields = SIGNED_FIELDS[str(envelope, 'Type') ?? ''];
  if (!fields) return undefined;
  return fields
    .filter((f) => typeof envelope[f] === 'string')
    .map((f) => `${f}\n${String(envelope[f])}\n`)
    .join('');
}

/**
 * True only for a message SNS signed, from the channel's own topic, stamped within the last
 * hour. Any account can make SNS sign for its topics with the same certificate, so without
 * a topic to match nothing is genuine.
 */
export function verifySnsSignature(req: WebhookRequest, certs: readonly X509Certificate[], topicArn: string | undefined, now = new Date()): boolean {
  const envelope = jsonBody(req);
  if (!isObject(envelope)) return false;
  if (!topicArn || envelope.TopicArn !== topicArn) return false;
  if (!isRecent(str(envelope, 'Timestamp'), now)) return false;
  const digest = DIGESTS[str(envelope, 'SignatureVersion') ?? ''];
  const signature = str(envelope, 'Signature');
  const canonical = snsStringToSign(envelope);
  if (!digest || !signature || canonical === undefined || !isSnsCertUrl(str(envelope, 'SigningCertURL'))) return false;
  const sig = Buffer.from(signature, 'base64');
  return certs.some(
    (cert) =>
      Date.parse(cert.validFrom) <= now.getTime() &&
      now.getTime() <= Date.parse(cert.validTo) &&
      verify(digest, Buffer.from(canonical, 'utf8'), cert.publicKey, sig),
  );
}

function isRecent(timestamp: string | undefined, now: Date): boolean {
  const at = timestamp ? Date.parse(timestamp) : Number.NaN;
  const age = now.getTime() - at;
  return age <= SNS_MAX_AGE_MS && age >= -SNS_MAX_SKEW_MS;
}

/** We verify against the pasted certificate, but a message naming a non-SNS certificate is not SNS's. */
function isSnsCertUrl(url: string | undefined): boolean {
  try {
    const u = new URL(url ?? '');
    return u.protocol === 'https:' && SNS_CERT_HOST.test(u.hostname) && u.pathname.endsWith('.pem');
  } catch {
    return false;
  }
}

export function parseSesEvents(req: WebhookRequest): StatusUpdate[] {
  const envelope = jsonBody(req);
  if (!isObject(envelope) || typeof envelope.Type !== 'string') throw new WebhookPayloadError('not an SNS message (no Type)');
  // The operator confirms the subscription with its SubscribeURL (see README): nothing to apply.
  if (envelope.Type === 'SubscriptionConfirmation' || envelope.Type === 'UnsubscribeConfirmation') return [];
  if (envelope.Type !== 'Notification') throw new WebhookPayloadError(`unknown SNS message type '${envelope.Type}'`);
  let ses: unknown;
  try {
    ses = JSON.parse(str(envelope, 'Message') ?? '');
  } catch {
    throw new WebhookPayloadError('SNS Message is not an SES notification (not JSON)');
  }
  if (!isObject(ses)) throw new WebhookPayloadError('SNS Message is not an SES notification');
  const update = sesStatus(ses);
  return update ? [update] : [];
}

function sesStatus(ses: Json): StatusUpdate | undefined {
  const type = str(ses, 'eventType') ?? str(ses, 'notificationType');
  // Each event's details sit under its name in camel case, except a rendering failure's (`failure`).
  const key = type === 'Rendering Failure' ? 'failure' : type ? type.charAt(0).toLowerCase() + type.slice(1) : '';
  const detail = obj(ses, key);
  let status: MessageStatus;
  let errorCode: string | undefined;
  let errorMessage: string | undefined;
  switch (type) {
    case 'Delivery':
      status = 'delivered';
      break;
    case 'Bounce': {
      if (!detail) throw new WebhookPayloadError('SES Bounce without its bounce object');
      // A Transient bounce ("soft": mailbox full, too large) may still be followed by a delivery
      // or a Permanent bounce; it changes nothing, the delivery wait decides.
      if (str(detail, 'bounceType') === 'Transient') return undefined;
      status = 'undelivered';
      errorCode = `ses_bounce_${snake(str(detail, 'bounceSubType') ?? 'undetermined')}`;
      const [first] = Array.isArray(detail.bouncedRecipients) ? (detail.bouncedRecipients as unknown[]) : [];
      errorMessage = (isObject(first) ? str(first, 'diagnosticCode') : undefined) ?? `${str(detail, 'bounceType') ?? 'Undetermined'} bounce`;
      break;
    }
    case 'Reject':
      status = 'undelivered';
      errorCode = 'ses_reject';
      errorMessage = str(detail, 'reason');
      break;
    case 'Rendering Failure':
      // A template the message named could not be rendered: SES sent nothing, and never will.
      status = 'failed';
      errorCode = 'ses_rendering_failure';
      errorMessage = str(detail, 'errorMessage') ?? 'SES could not render the template';
      break;
    case 'Open':
    case 'Click':
      status = 'read';
      break;
    default:
      // Complaint (about the contact, who did receive it), Send, DeliveryDelay, Subscription,
      // and whatever SES adds later: no lifecycle move.
      return undefined;
  }
  const mail = obj(ses, 'mail');
  if (!mail) throw new WebhookPayloadError(`SES ${type} without its mail object`);
  const update: StatusUpdate = {
    providerMessageId: providerMessageIdOf(mail),
    status,
    occurredAt: timeOf(detail?.timestamp ?? mail.timestamp),
  };
  const messageId = ourMessageId(mail);
  if (messageId) update.messageId = messageId;
  if (errorCode) update.errorCode = errorCode;
  if (errorMessage) update.errorMessage = errorMessage;
  return update;
}

/**
 * SES replaces the Message-ID on the way out but reports the original in commonHeaders
 * and headers (when "include original headers" is on); the tag survives when a
 * configuration set publishes events; mail.messageId is SES's own id.
 */
function ourMessageId(mail: Json): string | undefined {
  const tags = obj(mail, 'tags');
  const tagged = Array.isArray(tags?.[SES_ID_TAG]) ? (tags[SES_ID_TAG] as unknown[])[0] : undefined;
  if (isUuid(tagged)) return tagged.toLowerCase();
  const own = headerValue(mail, ID_HEADER);
  if (isUuid(own)) return own.toLowerCase();
  return messageIdFromHeader(str(obj(mail, 'commonHeaders'), 'messageId') ?? headerValue(mail, 'Message-ID'));
}

function providerMessageIdOf(mail: Json): string {
  const original = str(obj(mail, 'commonHeaders'), 'messageId') ?? headerValue(mail, 'Message-ID');
  if (original) return original.startsWith('<') ? original : `<${original}>`;
  return str(mail, 'messageId') ?? '';
}

function headerValue(mail: Json, name: string): string | undefined {
  const headers = Array.isArray(mail.headers) ? (mail.headers as unknown[]) : [];
  const found = headers.find((h) => isObject(h) && str(h, 'name')?.toLowerCase() === name.toLowerCase());
  return isObject(found) ? str(found, 'value') : undefined;
}

/** OnAccountSuppressionList → on_account_suppression_list: codes stay lower snake case like the others. */
function snake(value: string): string {
  return value
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toLowerCase();
}
