// The contract between the engine and every channel adapter. Adapters know
// nothing of Temporal or the database: they translate our types to a
// provider's wire format and back.

import type { ChannelType, MessageStatus } from '../lifecycle';

/** Provider-specific, decrypted channel credentials (e.g. account_sid, api_key, base_url). */
export type Credentials = Readonly<Record<string, string | undefined>>;

export interface TemplateRef {
  name: string;
  language?: string;
  variables?: Record<string, string>;
}

export interface DispatchPayload {
  messageId: string;
  to: string;
  from?: string;
  body?: string;
  subject?: string;
  html?: string;
  template?: TemplateRef;
  metadata?: Record<string, unknown>;
}

export interface SendContext {
  traceId: string;
  /** Public URL the provider should call back for this message's status updates. */
  statusCallbackUrl: string;
  /** Abort the provider call (activity cancellation or timeout). */
  signal?: AbortSignal;
  /**
   * When the recipient last wrote to this channel (from stored inbound messages);
   * undefined when never. Channels with a conversation window (WhatsApp, Messenger) use it.
   */
  lastInboundAt?: Date;
}

export interface DispatchResult {
  providerMessageId: string;
  /** Status the provider reported at accept time, already mapped to ours. */
  status: MessageStatus;
  raw?: unknown;
}

export interface CredentialCheck {
  ok: boolean;
  detail: string;
}

export interface WebhookRequest {
  method: string;
  /** The full public URL the provider called (signatures are computed over it). */
  url: string;
  headers: Readonly<Record<string, string | undefined>>;
  rawBody: Buffer;
  /** Parsed body: form fields or JSON. */
  body: unknown;
  query: Readonly<Record<string, string | undefined>>;
}

export interface InboundMessage {
  providerMessageId: string;
  from: string;
  to: string;
  body: string;
  receivedAt: Date;
  raw?: unknown;
}

export interface StatusUpdate {
  /** Empty for watermark updates, which name no single message. */
  providerMessageId: string;
  /** Our message id when the provider carried it back (callback URL, opaque data). */
  messageId?: string;
  status: MessageStatus;
  errorCode?: string;
  errorMessage?: string;
  /**
   * The provider's time of the status, as it gives it (often to the minute); absent when it
   * gives none. The row's times never run backwards whatever it says (db/messages.ts).
   */
  occurredAt?: Date;
  /**
   * Watermark receipts (Messenger): the status applies to every outbound message to
   * `recipient` on this channel sent at or before `upTo`.
   */
  watermark?: { recipient: string; upTo: Date };
}

export type WebhookKind = 'status' | 'inbound' | 'empty';

export interface WebhookResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface ChannelAdapter {
  readonly channelType: ChannelType;
  readonly provider: string;
  /** Sends per second when the channel does not set `rate_limit_per_second`. */
  readonly defaultRateLimitPerSecond: number;
  /** Credential keys a channel of this adapter must have (checked when the channel is created). */
  readonly requiredCredentials?: readonly string[];
  /**
   * What else a channel's credentials must satisfy, checked when the channel is created after
   * `requiredCredentials`: the credential key at fault and why, or undefined when they are fine.
   */
  credentialsProblem?(credentials: Credentials): { field: string; reason: string } | undefined;
  /** True when what may be sent depends on the contact's last inbound message (Meta's 24 h window): the send gets `lastInboundAt`. */
  readonly usesConversationWindow?: boolean;
  /** Checks a recipient address for this channel (e.g. E.164); returns the reason it is invalid. */
  validateAddress?(to: string): string | undefined;
  send(payload: DispatchPayload, credentials: Credentials, ctx: SendContext): Promise<DispatchResult>;
  verifyCredentials(credentials: Credentials): Promise<CredentialCheck>;
  /**
   * Throws WebhookPayloadError when the body is not the provider's format. `credentials` are the
   * channel's: what the body says about another account (a Meta entry for another number or page)
   * is left out.
   */
  parseInbound(req: WebhookRequest, credentials: Credentials): InboundMessage[];
  /** Throws WebhookPayloadError when the body is not the provider's format; `credentials` as for parseInbound. */
  parseStatusUpdates(req: WebhookRequest, credentials: Credentials): StatusUpdate[];
  verifyWebhookSignature(req: WebhookRequest, secret: string): boolean;
  /**
   * The secret the provider signs webhooks with, when it is one of the channel's
   * credentials (Twilio: the auth token). Otherwise the channel's webhook_secret is used.
   */
  webhookSigningSecret?(credentials: Credentials): string | undefined;
  webhookResponse?(kind: WebhookKind): WebhookResponse;
  /** Hosts these credentials make the adapter connect to, by credentials field (checked when a channel is created). */
  egressTargets?(credentials: Credentials): Array<{ field: string; host: string } | { field: string; problem: string }>;
  /**
   * A subscription handshake (e.g. Meta's GET with hub.challenge): the answer when
   * `req` is one, undefined otherwise. `verifyToken` is the channel's webhook_secret.
   */
  verificationChallenge?(req: WebhookRequest, verifyToken: string): WebhookResponse | undefined;
}

export type SendErrorClass = 'permanent' | 'transient' | 'rate_limited';

/** Base for every send failure: a stable provider code, a retry class and the cause. */
export abstract class SendError extends Error {
  abstract readonly retryClass: SendErrorClass;
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Never retried: invalid number, auth failure, window closed, unknown template. */
export class PermanentSendError extends SendError {
  readonly retryClass = 'permanent' as const;
}

/** Retried with backoff: 5xx, timeouts, connection errors. */
export class TransientSendError extends SendError {
  readonly retryClass = 'transient' as const;
}

/** Retried after the provider's Retry-After. */
export class RateLimitedError extends SendError {
  readonly retryClass = 'rate_limited' as const;
  constructor(
    message: string,
    code: string,
    readonly retryAfterMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, code, options);
  }
}

/** A webhook body that is not in the provider's format (answered 400). */
export class WebhookPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookPayloadError';
  }
}

export const E164 = /^\+[1-9]\d{6,14}$/;
