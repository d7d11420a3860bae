import { verifyCallbackToken } from '../callback-token';
import {
  PermanentSendError,
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
import { readAccount, type JasminAccount } from './jasmin-account';
import { EgressPolicy, unreachable, urlTarget, type EgressTarget } from '../egress';
import { connectorState, connectorStateFromMetrics, failureDetail } from './jasmin-connector';
import { parseDlr } from './jasmin-dlr';
import { sendErrorFromAnswer, sendErrorFromTransport } from './jasmin-errors';
import { JasminTransportError, joinUrl, parseJson, parseSendReply, request } from './jasmin-http';
import { pickCoding, smsParts, ucs2 } from './sms-encoding';

/** SMPP destination_addr digits, optionally written with a leading + (E.164 length). */
const SMPP_ADDRESS = /^\+?[1-9]\d{6,14}$/;

/** Jasmin's DLRThrower retries every callback whose body is not exactly this. */
const ACK: WebhookResponse = { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'ACK/Jasmin' };

/**
 * SMS over SMPP through a Jasmin gateway's HTTP API (`/send`, `/balance`), with
 * delivery receipts thrown back by Jasmin to a per-message dlr-url.
 * See adapters/smpp/README.md for credentials, DLR levels and errors.
 */
export class JasminSmppAdapter implements ChannelAdapter {
  readonly channelType = 'smpp' as const;
  readonly provider = 'jasmin';
  readonly defaultRateLimitPerSecond = 50;
  readonly requiredCredentials = ['base_url', 'username', 'password'] as const;

  constructor(private readonly egress: EgressPolicy = new EgressPolicy()) {}

  validateAddress(to: string): string | undefined {
    return SMPP_ADDRESS.test(to) ? undefined : 'must be an international number, digits with an optional leading +, e.g. +255712345678';
  }

  async send(payload: DispatchPayload, credentials: Credentials, ctx: SendContext): Promise<DispatchResult> {
    const account = readAccount(credentials);
    if (typeof account === 'string') {
      throw new PermanentSendError(account, account.startsWith('missing') ? 'missing_credentials' : 'invalid_credentials');
    }
    const form = sendForm(payload, account, ctx.statusCallbackUrl);
    let answer;
    try {
      answer = await request({
        method: 'POST',
        url: joinUrl(account.baseUrl, '/send'),
        form,
        headers: ctx.traceId ? { 'X-Trace-Id': ctx.traceId } : {},
        timeoutMs: account.timeoutMs,
        egress: this.egress,
        signal: ctx.signal,
      });
    } catch (err) {
      if (err instanceof JasminTransportError) throw sendErrorFromTransport(err);
      throw err;
    }
    const reply = parseSendReply(answer.body);
    if (answer.status === 200 && reply.kind === 'success') {
      // Jasmin has queued it for its SMPP connector; the SMSC has not seen it yet.
      return { providerMessageId: reply.messageId, status: 'queued', raw: { coding: form.get('coding') } };
    }
    if (answer.status === 200) {
      throw new PermanentSendError('jasmin HTTP 200 without `Success "<id>"`: is base_url the HTTP API (:1401)?', 'jasmin_bad_response');
    }
    throw sendErrorFromAnswer(answer, reply.kind === 'error' ? reply.message : undefined, [account.password]);
  }

  async verifyCredentials(credentials: Credentials): Promise<CredentialCheck> {
    const account = readAccount(credentials);
    if (typeof account === 'string') return { ok: false, detail: account };
    const { egress } = this;
    const check = await checkBalance(account, egress);
    const c = account.connector;
    if (!c) return check;
    const { timeoutMs } = account;
    const connector = c.restApiUrl
      ? await connectorState({ ...c, restApiUrl: c.restApiUrl, timeoutMs, egress })
      : await connectorStateFromMetrics({ baseUrl: account.baseUrl, connectorId: c.connectorId, timeoutMs, egress });
    return { ok: check.ok && connector.ok, detail: `${check.detail}; ${connector.detail}` };
  }

  egressTargets(credentials: Credentials): EgressTarget[] {
    return [...urlTarget('base_url', credentials.base_url), ...urlTarget('rest_api_url', credentials.rest_api_url)];
  }

  /** Mobile-originated messages reach Jasmin's HTTP client connectors, not a dlr-url: none arrive here. */
  parseInbound(_req: WebhookRequest): InboundMessage[] {
    return [];
  }

  parseStatusUpdates(req: WebhookRequest): StatusUpdate[] {
    return [parseDlr(req)];
  }

  /** Jasmin signs nothing: the dlr-url carries our message id and its HMAC token (adapters/callback-token.ts). */
  verifyWebhookSignature(req: WebhookRequest, secret: string): boolean {
    try {
      const { message_id: messageId, token } = req.query;
      if (!secret || typeof messageId !== 'string' || typeof token !== 'string') return false;
      return verifyCallbackToken(secret, messageId, token);
    } catch {
      return false;
    }
  }

  /** Every kind: anything but ACK/Jasmin makes the DLRThrower call again (up to max_retries, retry_delay apart). */
  webhookResponse(_kind: WebhookKind): WebhookResponse {
    return ACK;
  }
}

/** The /send form: Jasmin refuses unknown arguments, so only what it documents. */
function sendForm(payload: DispatchPayload, account: JasminAccount, dlrUrl: string): URLSearchParams {
  const text = payload.body;
  if (!text) throw new PermanentSendError('an SMPP message needs a text body', 'jasmin_no_content');
  const coding = pickCoding(text, account.coding);
  const parts = smsParts(text, coding);
  if (parts > account.maxParts) {
    throw new PermanentSendError(
      `message needs ${parts} SMS parts; Jasmin sends at most ${account.maxParts} (long_content_max_parts) and would cut the rest`,
      'jasmin_too_long',
    );
  }
  const form = new URLSearchParams({
    username: account.username,
    password: account.password,
    // International numbers go without the +; the connector's dst_ton (INTERNATIONAL by default) says what they are.
    to: payload.to.replace(/^\+/, ''),
    coding: String(coding),
  });
  // Jasmin converts `content` from UTF-8 to GSM 03.38 for coding 0 but forwards it byte for byte otherwise.
  if (coding === 0) form.set('content', text);
  else form.set('hex-content', ucs2(text).toString('hex'));
  const sender = payload.from ?? account.from;
  if (sender) form.set('from', sender);
  if (account.priority) form.set('priority', account.priority);
  if (account.validityPeriod) form.set('validity-period', account.validityPeriod);
  form.set('dlr', 'yes');
  form.set('dlr-url', dlrUrl);
  form.set('dlr-level', String(account.dlrLevel));
  form.set('dlr-method', account.dlrMethod);
  return form;
}

/** GET /balance authenticates the user without sending anything (jasmin/protocols/http/endpoints/balance.py). */
async function checkBalance(account: JasminAccount, egress: EgressPolicy): Promise<CredentialCheck> {
  const url = new URL(joinUrl(account.baseUrl, '/balance'));
  url.searchParams.set('username', account.username);
  url.searchParams.set('password', account.password);
  let answer;
  try {
    answer = await request({ method: 'GET', url: url.toString(), timeoutMs: account.timeoutMs, egress });
  } catch (err) {
    return { ok: false, detail: failureDetail(err, 'jasmin') };
  }
  const body = parseJson(answer.body) as { balance?: unknown; sms_count?: unknown } | string | undefined;
  const who = `jasmin user ${account.username}`;
  if (answer.status === 200 && typeof body === 'object' && body !== null) {
    const count = (v: unknown) => (typeof v === 'number' || (typeof v === 'string' && /^[\d.]{1,20}$|^ND$/.test(v)) ? String(v) : 'unknown');
    return { ok: true, detail: `${who} authenticated (balance ${count(body.balance)}, sms_count ${count(body.sms_count)})` };
  }
  if (answer.status === 403) return { ok: false, detail: `${who}: authentication failed (jasmin_auth)` };
  // Authorization is checked after authentication: this user logged in but may not read its balance.
  if (answer.status === 400 && typeof body === 'string' && /^Authorization failed/.test(body)) {
    return { ok: true, detail: `${who} authenticated (not allowed to read its balance)` };
  }
  // Whatever else answered is not repeated: it may not be Jasmin at all.
  return { ok: false, detail: unreachable('jasmin') };
}
