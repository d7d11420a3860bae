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
import { EgressPolicy, EgressRefusedError, unreachable, type EgressTarget } from '../egress';
import { buildMessageId, invalidEmailAddress } from './address';
import { eventKeysOf, eventKeysProblem, verifierFor } from './event-keys';
import { htmlToText } from './html-text';
import { SENDGRID_ID_ARG, parseSendGridEvents, verifySendGridSignature } from './sendgrid-events';
import { ID_HEADER, SES_ID_TAG, parseSesEvents, topicArnProblem, verifySnsSignature } from './ses-events';
import { toSendError } from './smtp-errors';
import { readSmtpSettings, type SmtpSettings } from './smtp-settings';
import { TransportPool, createSingle } from './smtp-transport';
import { jsonBody } from './webhook-body';

export class EmailAdapter implements ChannelAdapter {
  readonly channelType = 'email' as const;
  readonly provider = 'default';
  // Amazon SES's default sending quota for a production account is 14 messages/s; most
  // SMTP relays (SendGrid, Mailgun, Postmark) allow more, so this is the safe floor.
  readonly defaultRateLimitPerSecond = 14;
  readonly requiredCredentials = ['host', 'port', 'from_address'] as const;

  private readonly pool: TransportPool;

  /** `now` dates the events' signatures (SNS Timestamp, SendGrid's signed timestamp). */
  constructor(
    private readonly now: () => number = Date.now,
    private readonly egress: EgressPolicy = new EgressPolicy(),
  ) {
    this.pool = new TransportPool((host) => this.address(host));
  }

  /** The checked address to connect to for an SMTP host. */
  private async address(host: string): Promise<string> {
    const [first] = await this.egress.resolve(host);
    return first?.address ?? host;
  }

  validateAddress(to: string): string | undefined {
    return invalidEmailAddress(to);
  }

  credentialsProblem(credentials: Credentials): { field: string; reason: string } | undefined {
    if (credentials.events_provider !== 'ses') return undefined;
    const reason = topicArnProblem(credentials.sns_topic_arn);
    return reason ? { field: 'sns_topic_arn', reason } : undefined;
  }

  async send(payload: DispatchPayload, credentials: Credentials, ctx: SendContext): Promise<DispatchResult> {
    const s = readSmtpSettings(credentials);
    if (typeof s === 'string') throw new PermanentSendError(s, 'invalid_credentials');
    const invalidTo = invalidEmailAddress(payload.to);
    if (invalidTo) throw new PermanentSendError(`recipient ${invalidTo}`, 'invalid_address');
    if (payload.from && invalidEmailAddress(payload.from)) throw new PermanentSendError('from is not a valid email address', 'invalid_from');
    const subject = payload.subject?.trim();
    if (!subject) throw new PermanentSendError('an email needs a subject', 'missing_subject');
    if (!payload.body && !payload.html) {
      throw new PermanentSendError(payload.template ? 'email templates are not supported; send body or html' : 'an email needs body or html', 'missing_body');
    }

    const messageIdHeader = buildMessageId(payload.messageId, s.messageIdDomain);
    const transport = this.pool.get(s);
    try {
      const info = await transport.sendMail({
        from: s.fromName ? { name: s.fromName, address: payload.from ?? s.fromAddress } : (payload.from ?? s.fromAddress),
        to: payload.to,
        ...(s.replyTo ? { replyTo: s.replyTo } : {}),
        subject,
        text: payload.body ?? htmlToText(payload.html ?? ''),
        ...(payload.html ? { html: payload.html } : {}),
        messageId: messageIdHeader,
        headers: trackingHeaders(payload.messageId, ctx.traceId, s),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      return {
        providerMessageId: messageIdHeader,
        status: 'sent',
        raw: { response: info.response, accepted: info.accepted },
      };
    } catch (err) {
      const failure = toSendError(err);
      if (failure.code === 'smtp_auth_failed') this.pool.discard(s);
      throw failure;
    }
  }

  async verifyCredentials(credentials: Credentials): Promise<CredentialCheck> {
    const s = readSmtpSettings(credentials);
    if (typeof s === 'string') return { ok: false, detail: s };
    const events = eventKeysProblem(credentials);
    let address: string;
    try {
      address = await this.address(s.host);
    } catch (err) {
      return { ok: false, detail: err instanceof EgressRefusedError ? `egress_refused: ${err.message}` : unreachable(`smtp ${s.host}:${s.port}`) };
    }
    // A fresh, unpooled connection: the check must really connect and log in now.
    const transport = createSingle(s, address);
    try {
      await transport.verify();
    } catch (err) {
      // Only a login refused or a certificate rejected by an SMTP server is told apart; the server's words are not repeated.
      const failure = toSendError(err);
      const known = failure.code === 'smtp_auth_failed' || failure.code === 'smtp_tls_certificate';
      return { ok: false, detail: known ? `smtp ${s.host}:${s.port} ${failure.code}` : unreachable(`smtp ${s.host}:${s.port}`) };
    } finally {
      transport.close();
    }
    const login = s.username ? `logged in as ${s.username}` : 'no login configured';
    if (events) return { ok: false, detail: `smtp ${s.host}:${s.port} ok (${login}); ${events}` };
    return { ok: true, detail: `smtp ${s.host}:${s.port} ok (${login}); events: ${s.eventsProvider ?? 'none'}` };
  }

  egressTargets(credentials: Credentials): EgressTarget[] {
    return credentials.host ? [{ field: 'host', host: credentials.host }] : [];
  }

  /** Inbound email is out of scope: an email channel's webhook only carries delivery events. */
  parseInbound(_req: WebhookRequest): InboundMessage[] {
    return [];
  }

  parseStatusUpdates(req: WebhookRequest): StatusUpdate[] {
    // Signed bodies already matched the channel's provider; the shape tells which it was.
    return Array.isArray(jsonBody(req)) ? parseSendGridEvents(req) : parseSesEvents(req);
  }

  verifyWebhookSignature(req: WebhookRequest, secret: string): boolean {
    try {
      const v = verifierFor(secret);
      const now = new Date(this.now());
      return v.provider === 'sendgrid' ? verifySendGridSignature(req, v.key, now) : verifySnsSignature(req, v.certs, v.topicArn, now);
    } catch {
      return false;
    }
  }

  /** The events provider's public verification material, packed (see event-keys.ts). */
  webhookSigningSecret(credentials: Credentials): string {
    return JSON.stringify(eventKeysOf(credentials));
  }

  /** SNS and SendGrid read only the status code; 200 with an empty body is enough for both. */
  webhookResponse(_kind: WebhookKind): WebhookResponse {
    return { status: 200, headers: {}, body: '' };
  }

  /** Closes the pooled SMTP connections (worker shutdown, tests). */
  close(): void {
    this.pool.close();
  }
}

type HeaderValue = string | { prepared: true; value: string };

function trackingHeaders(messageId: string, traceId: string, s: SmtpSettings): Record<string, HeaderValue> {
  // `prepared` keeps nodemailer from MIME-encoding values the provider parses as-is (JSON,
  // key=value); each is ASCII we built from a UUID or a credential.
  const raw = (value: string): HeaderValue => ({ prepared: true, value });
  const headers: Record<string, HeaderValue> = { [ID_HEADER]: raw(messageId) };
  if (traceId) headers['X-Trace-Id'] = traceId;
  // SendGrid's SMTP API copies unique_args into every event, opens and clicks included (they carry no smtp-id).
  if (s.eventsProvider === 'sendgrid') headers['X-SMTPAPI'] = raw(JSON.stringify({ unique_args: { [SENDGRID_ID_ARG]: messageId } }));
  if (s.eventsProvider === 'ses') {
    headers['X-SES-MESSAGE-TAGS'] = raw(`${SES_ID_TAG}=${messageId}`);
    if (s.sesConfigurationSet) headers['X-SES-CONFIGURATION-SET'] = s.sesConfigurationSet;
  }
  return headers;
}
