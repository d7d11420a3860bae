import twilio from 'twilio';
import {
  E164,
  PermanentSendError,
  SendError,
  WebhookPayloadError,
  type ChannelAdapter,
  type CredentialCheck,
  type Credentials,
  type DispatchPayload,
  type DispatchResult,
  type InboundMessage,
  type SendContext,
  type StatusUpdate,
  type WebhookKind,
  type WebhookRequest,
  type WebhookResponse,
} from '../types';
import { EgressPolicy, EgressRefusedError, boundedTimeout, unreachable, urlTarget, type EgressTarget } from '../egress';
import { asTwilioApiError, toSendError } from './twilio-errors';
import { RoutedRequestClient, TwilioTransportError } from './twilio-http-client';
import { STATUS_MAP, field, formOf, header, isStatusCallback, parseDlrDoneDate, signedParams, statusOf } from './twilio-webhook';

const DEFAULT_BASE_URL = 'https://api.twilio.com';
const DEFAULT_TIMEOUT_MS = 10_000;

const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

interface TwilioAccount {
  accountSid: string;
  apiKey: string;
  apiSecret: string;
  from?: string;
  baseUrl: string;
  timeoutMs: number;
}

export class TwilioSmsAdapter implements ChannelAdapter {
  readonly channelType = 'sms' as const;
  readonly provider = 'twilio';
  readonly defaultRateLimitPerSecond = 100;
  // auth_token is never sent to the API, but without it no webhook of this channel can be verified.
  readonly requiredCredentials = ['account_sid', 'api_key', 'api_secret', 'auth_token', 'from'] as const;

  constructor(private readonly egress: EgressPolicy = new EgressPolicy()) {}

  validateAddress(to: string): string | undefined {
    return E164.test(to) ? undefined : 'must be an E.164 phone number, e.g. +14155550100';
  }

  async send(payload: DispatchPayload, credentials: Credentials, ctx: SendContext): Promise<DispatchResult> {
    const account = readAccount(credentials);
    if (typeof account === 'string') throw new PermanentSendError(account, 'missing_credentials');
    const sender = payload.from ?? account.from;
    const http = new RoutedRequestClient({ ...account, egress: this.egress, traceId: ctx.traceId, signal: ctx.signal });
    try {
      const message = await connect(account, http)
        .api.v2010.accounts(account.accountSid)
        .messages.create({
          to: payload.to,
          body: payload.body,
          statusCallback: ctx.statusCallbackUrl,
          ...(sender?.startsWith('MG') ? { messagingServiceSid: sender } : { from: sender }),
        });
      return {
        providerMessageId: message.sid,
        status: (Object.hasOwn(STATUS_MAP, message.status) ? STATUS_MAP[message.status] : undefined) ?? 'queued',
        raw: { sid: message.sid, status: message.status, numSegments: message.numSegments },
      };
    } catch (err) {
      throw toSendError(err, http.lastResponseHeaders);
    }
  }

  async verifyCredentials(credentials: Credentials): Promise<CredentialCheck> {
    const account = readAccount(credentials);
    if (typeof account === 'string') return { ok: false, detail: account };
    try {
      const http = new RoutedRequestClient({ ...account, egress: this.egress });
      const fetched = await connect(account, http).api.v2010.accounts(account.accountSid).fetch();
      // Only what a Twilio account looks like is repeated, never free text from the answer.
      const status = ['active', 'suspended', 'closed'].includes(fetched.status) ? fetched.status : undefined;
      if (!/^AC[0-9a-f]{32}$/i.test(fetched.sid) || !status) return { ok: false, detail: unreachable('twilio') };
      return { ok: status === 'active', detail: `account ${fetched.sid} status ${status}` };
    } catch (err) {
      return { ok: false, detail: describeCheckFailure(err, account.accountSid) };
    }
  }

  parseInbound(req: WebhookRequest): InboundMessage[] {
    const form = formOf(req);
    if (isStatusCallback(form)) return [];
    const sid = field(form, 'MessageSid') ?? field(form, 'SmsSid');
    const from = field(form, 'From');
    const to = field(form, 'To');
    if (!sid || !from || !to) throw new WebhookPayloadError('twilio inbound message lacks MessageSid, From or To');
    return [{ providerMessageId: sid, from, to, body: field(form, 'Body') ?? '', receivedAt: new Date(), raw: form }];
  }

  parseStatusUpdates(req: WebhookRequest): StatusUpdate[] {
    const form = formOf(req);
    if (!isStatusCallback(form)) return [];
    const twilioStatus = statusOf(form) ?? '';
    // Own keys only: '__proto__' or 'constructor' would find Object.prototype's members.
    const status = Object.hasOwn(STATUS_MAP, twilioStatus) ? STATUS_MAP[twilioStatus] : undefined;
    if (!status) throw new WebhookPayloadError(`unknown twilio message status '${twilioStatus}'`);
    const sid = field(form, 'MessageSid') ?? field(form, 'SmsSid');
    if (!sid) throw new WebhookPayloadError('twilio status callback lacks MessageSid');
    const update: StatusUpdate = {
      providerMessageId: sid,
      status,
      occurredAt: parseDlrDoneDate(field(form, 'RawDlrDoneDate')),
    };
    const messageId = req.query.message_id;
    if (messageId) update.messageId = messageId;
    const errorCode = field(form, 'ErrorCode');
    if (errorCode) update.errorCode = errorCode;
    const errorMessage = field(form, 'ErrorMessage');
    if (errorMessage) update.errorMessage = errorMessage;
    return [update];
  }

  verifyWebhookSignature(req: WebhookRequest, secret: string): boolean {
    try {
      const signature = header(req, 'x-twilio-signature');
      if (!signature || !secret) return false;
      const algorithm = twilio.getSignatureAlgorithm(header(req, 'x-twilio-webhooks-signature-settings'));
      if (header(req, 'content-type')?.toLowerCase().startsWith('application/json')) {
        return twilio.validateRequestWithBody(secret, signature, req.url, req.rawBody.toString('utf8'), algorithm);
      }
      return twilio.validateRequest(secret, signature, req.url, signedParams(req), algorithm);
    } catch {
      return false;
    }
  }

  /** The auth token signs webhooks; it is never used to call the API (API keys are). */
  webhookSigningSecret(credentials: Credentials): string | undefined {
    return credentials.auth_token;
  }

  /**
   * Inbound messages get empty TwiML ("reply nothing"): Twilio reads a messaging
   * webhook's answer as TwiML. Twilio ignores the answer to a status callback
   * beyond its 2xx, so 204 with no body says "received" and nothing more.
   */
  egressTargets(credentials: Credentials): EgressTarget[] {
    return urlTarget('base_url', credentials.base_url, DEFAULT_BASE_URL);
  }

  webhookResponse(kind: WebhookKind): WebhookResponse {
    if (kind === 'status') return { status: 204, headers: {}, body: '' };
    return { status: 200, headers: { 'content-type': 'text/xml; charset=utf-8' }, body: EMPTY_TWIML };
  }
}

/** The account, or a message naming what is missing (never a value). */
function readAccount(credentials: Credentials): TwilioAccount | string {
  const { account_sid: accountSid, api_key: apiKey, api_secret: apiSecret } = credentials;
  if (!accountSid || !apiKey || !apiSecret) {
    const missing = ['account_sid', 'api_key', 'api_secret'].filter((name) => !credentials[name]);
    return `missing twilio credentials: ${missing.join(', ')}`;
  }
  return {
    accountSid,
    apiKey,
    apiSecret,
    from: credentials.from,
    baseUrl: credentials.base_url || DEFAULT_BASE_URL,
    timeoutMs: boundedTimeout(credentials.timeout_ms, DEFAULT_TIMEOUT_MS),
  };
}

function connect(account: TwilioAccount, httpClient: RoutedRequestClient): twilio.Twilio {
  try {
    return twilio(account.apiKey, account.apiSecret, { accountSid: account.accountSid, httpClient });
  } catch (err) {
    // The client rejects an account_sid that does not start with AC.
    throw new PermanentSendError(`invalid twilio credentials: ${(err as Error).message}`, 'invalid_credentials');
  }
}

function describeCheckFailure(err: unknown, accountSid: string): string {
  if (err instanceof EgressRefusedError) return `egress_refused: ${err.message}`;
  if (err instanceof PermanentSendError && err.code === 'invalid_credentials') return err.message;
  if (err instanceof TwilioTransportError || err instanceof SendError) return unreachable('twilio');
  // An answer counts as Twilio's only with a Twilio error code (a number) in it.
  const api = asTwilioApiError(err);
  const code = api && /^\d{5}$/.test(String(api.code ?? '')) ? String(api.code) : undefined;
  if (!api || !code) return unreachable('twilio');
  if (api.status === 401) return `authentication failed (${code})`;
  if (api.status === 404) return `account ${accountSid} not found (${code})`;
  return `twilio answered HTTP ${api.status} (${code})`;
}
