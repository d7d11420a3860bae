// Meta's wire formats, written from Meta's documentation on purpose without
// adapters/: the simulator is a second, independent reading of the provider.
import { createHmac, randomBytes } from 'node:crypto';

export const GRAPH_VERSION_PATH = /^v\d+\.\d+$/;

/**
 * Meta signs the body it sends, and sends JSON with every non-ASCII character
 * escaped as \uXXXX (lowercase hex); receivers must hash the bytes as received.
 */
export function metaJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `X-Hub-Signature-256`: sha256= + hex HMAC-SHA256 of the body with the app secret. */
export function hubSignature(body: string, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body, 'utf8').digest('hex')}`;
}

/** appsecret_proof: hex HMAC-SHA256 of the access token with the app secret. */
export function expectedProof(accessToken: string, appSecret: string): string {
  return createHmac('sha256', appSecret).update(accessToken).digest('hex');
}

/** WhatsApp message ids: "wamid." + base64 of an opaque protobuf-ish blob. */
export function newWamid(): string {
  return `wamid.${Buffer.concat([Buffer.from('HBgL'), randomBytes(24)]).toString('base64')}`;
}

/** Messenger message ids: "m_" + url-safe base64. */
export function newMid(): string {
  return `m_${randomBytes(36).toString('base64url')}`;
}

export function unixSeconds(at = Date.now()): string {
  return String(Math.floor(at / 1000));
}

export interface GraphErrorSpec {
  status: number;
  code: number;
  message: string;
  type?: string;
  subcode?: number;
  title?: string;
  details?: string;
}

/** Graph's error body. https://developers.facebook.com/docs/graph-api/guides/error-handling */
export function errorBody(e: GraphErrorSpec): Record<string, unknown> {
  return {
    error: {
      message: e.message,
      type: e.type ?? 'OAuthException',
      code: e.code,
      ...(e.subcode !== undefined ? { error_subcode: e.subcode } : {}),
      ...(e.details ? { error_data: { messaging_product: 'whatsapp', details: e.details } } : {}),
      ...(e.title ? { error_user_title: e.title } : {}),
      fbtrace_id: randomBytes(8).toString('base64').replace(/=+$/, ''),
    },
  };
}

export const INVALID_TOKEN: GraphErrorSpec = {
  status: 401,
  code: 190,
  message: 'Invalid OAuth access token - Cannot parse access token',
};

export function invalidParameter(message: string): GraphErrorSpec {
  return { status: 400, code: 100, message: `(#100) ${message}` };
}

export function unknownObject(id: string, method: string): GraphErrorSpec {
  return {
    status: 400,
    code: 100,
    subcode: 33,
    type: 'GraphMethodException',
    message: `Unsupported ${method} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
  };
}

/** WhatsApp's envelope around one "messages" change. */
export function whatsappEnvelope(
  business: { wabaId: string; displayPhoneNumber: string; phoneNumberId: string },
  value: Record<string, unknown>,
): Record<string, unknown> {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: business.wabaId,
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: business.displayPhoneNumber, phone_number_id: business.phoneNumberId },
              ...value,
            },
            field: 'messages',
          },
        ],
      },
    ],
  };
}

/** Messenger's envelope around messaging events of one Page. */
export function pageEnvelope(pageId: string, events: Array<Record<string, unknown>>): Record<string, unknown> {
  return { object: 'page', entry: [{ id: pageId, time: Date.now(), messaging: events }] };
}
