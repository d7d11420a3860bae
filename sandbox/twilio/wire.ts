// Twilio's wire formats, written from Twilio's documentation on purpose
// without the twilio package or adapters/: the simulator is a second,
// independent reading of the provider.
import { createHmac, randomBytes } from 'node:crypto';

export const API_VERSION = '2010-04-01';

export interface SimMessage {
  sid: string;
  accountSid: string;
  from: string | null;
  to: string;
  body: string;
  messagingServiceSid: string | null;
  statusCallback: string | null;
  status: string;
  errorCode: number | null;
  errorMessage: string | null;
  createdAt: Date;
  updatedAt: Date;
  sentAt: Date | null;
}

/** "SM" + 32 hex, like every Twilio SID (two-letter prefix + 128 bits). */
export function newSid(prefix: string): string {
  return prefix + randomBytes(16).toString('hex');
}

/** Twilio's JSON dates are RFC 2822 with a numeric zone: "Thu, 24 Aug 2023 05:01:45 +0000". */
export function rfc2822(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}

/** The carrier receipt's done-date as Twilio passes it through: YYMMDDhhmm. */
export function dlrDoneDate(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return two(date.getUTCFullYear() % 100) + two(date.getUTCMonth() + 1) + two(date.getUTCDate()) + two(date.getUTCHours()) + two(date.getUTCMinutes());
}

/** Twilio's message resource as JSON (snake_case, counts as strings, like the real API). */
export function messageJson(m: SimMessage): Record<string, unknown> {
  const uri = `/${API_VERSION}/Accounts/${m.accountSid}/Messages/${m.sid}.json`;
  return {
    account_sid: m.accountSid,
    api_version: API_VERSION,
    body: m.body,
    date_created: rfc2822(m.createdAt),
    date_sent: m.sentAt ? rfc2822(m.sentAt) : null,
    date_updated: rfc2822(m.updatedAt),
    direction: 'outbound-api',
    error_code: m.errorCode,
    error_message: m.errorMessage,
    from: m.from,
    messaging_service_sid: m.messagingServiceSid,
    num_media: '0',
    num_segments: String(segmentCount(m.body)),
    price: null,
    price_unit: 'USD',
    sid: m.sid,
    status: m.status,
    subresource_uris: {
      media: `/${API_VERSION}/Accounts/${m.accountSid}/Messages/${m.sid}/Media.json`,
      feedback: `/${API_VERSION}/Accounts/${m.accountSid}/Messages/${m.sid}/Feedback.json`,
    },
    to: m.to,
    uri,
  };
}

export function accountJson(sid: string, authToken: string, createdAt: Date): Record<string, unknown> {
  const base = `/${API_VERSION}/Accounts/${sid}`;
  return {
    auth_token: authToken,
    date_created: rfc2822(createdAt),
    date_updated: rfc2822(createdAt),
    friendly_name: `Simulated account ${sid.slice(-6)}`,
    owner_account_sid: sid,
    sid,
    status: 'active',
    subresource_uris: {
      messages: `${base}/Messages.json`,
      incoming_phone_numbers: `${base}/IncomingPhoneNumbers.json`,
    },
    type: 'Full',
    uri: `${base}.json`,
  };
}

/** Twilio's legacy error body, as every 2010-04-01 endpoint answers. */
export function errorJson(status: number, code: number, message: string): Record<string, unknown> {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

/**
 * GSM-7 fits 160 characters in one segment (153 when concatenated), UCS-2 70
 * (67). Printable ASCII stands in for the GSM-7 alphabet: close enough for a simulator.
 */
export function segmentCount(body: string): number {
  const gsm = /^[\x20-\x7E\r\n]*$/.test(body);
  const [single, multi] = gsm ? [160, 153] : [70, 67];
  const length = [...body].length;
  return length <= single ? 1 : Math.ceil(length / multi);
}

/**
 * X-Twilio-Signature: base64(HMAC-SHA1(authToken, url + each POST field's
 * name and value, sorted by name)). https://www.twilio.com/docs/usage/security#validating-requests
 */
export function twilioSignature(authToken: string, url: string, params: Record<string, string>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}
