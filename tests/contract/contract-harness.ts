// What one adapter brings to the shared contract suite: its simulator (or real
// server), credentials, a payload per case and the webhooks its provider sends.
// Everything provider-specific lives in the harness; the suite only asserts.
import type { ChannelAdapter, Credentials, DispatchPayload, DispatchResult, InboundMessage, SendContext, WebhookRequest } from '../../adapters/types';
import type { MessageStatus } from '../../lifecycle';
import { randomUUID } from 'node:crypto';
import { EgressPolicy } from '../../adapters/egress';
import { statusCallbackUrl } from '../../adapters/callback-token';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
export const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

export type SendCase = 'ok' | 'permanent' | 'transient' | 'rateLimited';

/** The recipients a simulator scripts for the cases, in SendCase's order: accepted, refused for good, a 5xx, a 429. */
export const scripted = (ok: string, permanent: string, transient: string, rateLimited: string): Record<SendCase, string> => ({
  ok,
  permanent,
  transient,
  rateLimited,
});

/** The secrets a channel verifies webhooks with, as the route picks them. */
export interface WebhookSecrets {
  credentials: Credentials;
  webhookSecret: string;
}

export interface ContractHarness {
  readonly adapter: ChannelAdapter;
  readonly channel: WebhookSecrets;
  /** The same account with a secret the provider refuses. */
  readonly badCredentials: Credentials;
  /** Credential keys whose values must never show in an error message or a check's detail. */
  readonly secretKeys: readonly string[];
  /** The channel's settings pointed at a port nobody listens on. */
  unreachable(port: number): Credentials;

  /** Recipients the simulator scripts (sandbox/README.md) to answer as each case says: see `scripted`. */
  readonly recipients: Readonly<Record<SendCase, string>>;
  /** A fresh payload (new message id) to this recipient. */
  payload(to: string): DispatchPayload;
  /** The engine's context for one send: trace id, per-message callback URL, conversation window. */
  context(payload: DispatchPayload): SendContext;
  /** Send requests naming this recipient that the simulator has received so far (SMTP: RCPT TO commands). */
  requestsTo(to: string): number;

  readonly expected: {
    okStatus: 'sent' | 'queued';
    providerMessageId: RegExp;
    /** Error codes, as the provider states them (or the adapter's stable name for a transport failure). */
    permanentCode: string;
    transientCode: string;
    networkCode: string;
    rateLimitedCode: string;
    /** Exact wait when the provider states one (Retry-After); otherwise only > 0 is required. */
    retryAfterMs?: number;
  };

  /** The status webhook the simulator sends for an accepted message, as our route receives it. */
  readonly status: {
    expected: MessageStatus;
    /** The provider carries our message id back (callback URL, opaque data, custom args). */
    carriesMessageId: boolean;
    awaitWebhook(sent: { payload: DispatchPayload; result: DispatchResult }): Promise<WebhookRequest>;
  };

  /** `out-of-scope` when the channel has no inbound messages (email, SMPP through Jasmin's dlr-url). */
  readonly inbound:
    'out-of-scope' | { simulate(): Promise<{ request: WebhookRequest; expected: Pick<InboundMessage, 'providerMessageId' | 'from' | 'to' | 'body'> }> };

  readonly signature: {
    /** Another channel's secrets: a webhook verified with them must fail. */
    otherChannel: WebhookSecrets;
    /** The request with what the signature covers changed (body, or the signed callback URL). */
    tamper(req: WebhookRequest): WebhookRequest;
    /** The request without its signature (header or token). */
    strip(req: WebhookRequest): WebhookRequest;
  };

  /** Bodies that are not the provider's format; the route must answer them 400. */
  readonly malformed: ReadonlyArray<{ what: string; request: WebhookRequest }>;

  close(): Promise<void>;
}

/**
 * Our webhook receiver for an adapter whose provider calls back the URL we give each message,
 * signed with a per-message token (Twilio's StatusCallback, Jasmin's dlr-url).
 */
export async function tokenCallbackRig(adapter: ChannelAdapter, channelType: 'sms' | 'smpp') {
  const receiver: WebhookReceiver = await startWebhookReceiver(adapter);
  const channelId = randomUUID();
  const webhookSecret = 'contract-webhook-secret';
  const messageUrl = (messageId: string) => statusCallbackUrl(receiver.url, channelType, channelId, messageId, webhookSecret);
  return {
    receiver,
    webhookSecret,
    /** The channel's own webhook URL (inbound messages). */
    channelUrl: `${receiver.url}/webhooks/${channelType}/${channelId}`,
    messageUrl,
    context: (payload: DispatchPayload): SendContext => ({ traceId: randomUUID().replace(/-/g, ''), statusCallbackUrl: messageUrl(payload.messageId) }),
  };
}
