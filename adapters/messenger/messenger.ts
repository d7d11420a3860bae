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
  type WebhookRequest,
} from '../types';
import { GRAPH_BASE_URL, graphFetch, graphSettings, type GraphResponse, type GraphTarget } from '../meta/graph-client';
import { EgressPolicy, shown, urlTarget, type EgressTarget } from '../egress';
import { checkFailureDetail, graphSend, unreachableDetail } from '../meta/graph-errors';
import { MetaWebhookAdapter, windowOpen } from '../meta/webhook';
import { MESSENGER_ERRORS } from './messenger-errors';
import { parseInbound, parseStatusUpdates } from './messenger-webhook';

/** Send API limit for message.text. */
export const MAX_TEXT_LENGTH = 2000;
/**
 * Tags that may still carry a message outside the 24-hour window.
 * https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags
 */
export const MESSAGE_TAGS = ['ACCOUNT_UPDATE', 'CONFIRMED_EVENT_UPDATE', 'POST_PURCHASE_UPDATE', 'HUMAN_AGENT'] as const;
/** Page-scoped ids (PSIDs) are decimal strings. */
const PSID = /^\d{1,32}$/;

interface PageAccount extends GraphTarget {
  pageId?: string;
}

/** Facebook Messenger through the Send API, as one Page. */
export class MessengerAdapter extends MetaWebhookAdapter implements ChannelAdapter {
  readonly channelType = 'messenger' as const;
  readonly provider = 'default';
  readonly usesConversationWindow = true;
  /** Well under the Send API's per-Page ceiling (~250 requests/s), which Meta scales with audience. */
  readonly defaultRateLimitPerSecond = 40;
  /** page_id: webhooks are applied only for entries of this page. */
  readonly requiredCredentials = ['page_access_token', 'app_secret', 'page_id'] as const;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly egress: EgressPolicy = new EgressPolicy(),
  ) {
    super();
  }

  validateAddress(to: string): string | undefined {
    return PSID.test(to) ? undefined : 'must be a page-scoped id (PSID): digits, as Messenger webhooks report the sender';
  }

  async send(payload: DispatchPayload, credentials: Credentials, ctx: SendContext): Promise<DispatchResult> {
    const account = readAccount(credentials, this.egress);
    if (typeof account === 'string') throw new PermanentSendError(account, 'missing_credentials');
    const json = sendBody(payload, ctx.lastInboundAt, this.now());

    const res = await graphSend(
      'messenger',
      account,
      { method: 'POST', path: 'me/messages', json, traceId: ctx.traceId, signal: ctx.signal },
      MESSENGER_ERRORS,
    );
    const body = res.body as { message_id?: unknown; recipient_id?: unknown } | undefined;
    // Meta took the request; sending again could deliver twice, so this is not retried.
    if (typeof body?.message_id !== 'string') {
      throw new PermanentSendError('messenger accepted the request without a message id', 'unexpected_response');
    }
    return { providerMessageId: body.message_id, status: 'queued', raw: { message_id: body.message_id, recipient_id: body.recipient_id } };
  }

  async verifyCredentials(credentials: Credentials): Promise<CredentialCheck> {
    const account = readAccount(credentials, this.egress);
    if (typeof account === 'string') return { ok: false, detail: account };
    try {
      const res = await graphFetch(account, { method: 'GET', path: 'me', query: { fields: 'id,name' } });
      if (res.status !== 200) return { ok: false, detail: describeCheckFailure(res) };
      const page = res.body as { id?: unknown; name?: unknown } | undefined;
      if (account.pageId && page?.id !== account.pageId) {
        return { ok: false, detail: `the token belongs to page ${shown(page?.id)}, not page_id ${account.pageId}` };
      }
      return { ok: true, detail: `page ${shown(page?.name)} (${shown(page?.id)})` };
    } catch (err) {
      return { ok: false, detail: unreachableDetail(err) };
    }
  }

  egressTargets(credentials: Credentials): EgressTarget[] {
    return urlTarget('base_url', credentials.base_url, GRAPH_BASE_URL);
  }

  parseInbound(req: WebhookRequest, credentials: Credentials): InboundMessage[] {
    return parseInbound(req, credentials.page_id);
  }

  parseStatusUpdates(req: WebhookRequest, credentials: Credentials): StatusUpdate[] {
    return parseStatusUpdates(req, credentials.page_id);
  }
}

/**
 * RESPONSE inside the 24-hour standard window; outside it only with a message tag
 * from the message's metadata (`message_tag`), else we refuse before calling Meta.
 * https://developers.facebook.com/docs/messenger-platform/send-messages#messaging_types
 */
function sendBody(payload: DispatchPayload, lastInboundAt: Date | undefined, now: number): Record<string, unknown> {
  if (!payload.body) throw new PermanentSendError('messenger needs a text body (templates are a WhatsApp concept)', 'messenger_body_missing');
  if ([...payload.body].length > MAX_TEXT_LENGTH) {
    throw new PermanentSendError(`messenger text is limited to ${MAX_TEXT_LENGTH} characters`, 'messenger_body_too_long');
  }
  const message = { text: payload.body, metadata: payload.messageId };
  const recipient = { id: payload.to };
  if (windowOpen(lastInboundAt, now)) return { recipient, messaging_type: 'RESPONSE', message };

  const tag = payload.metadata?.message_tag;
  if (tag === undefined) {
    throw new PermanentSendError(
      'messenger allows messages only within 24 hours of the person writing, or with a message tag (metadata.message_tag)',
      'messenger_window_closed',
    );
  }
  if (typeof tag !== 'string' || !(MESSAGE_TAGS as readonly string[]).includes(tag)) {
    throw new PermanentSendError(`metadata.message_tag must be one of ${MESSAGE_TAGS.join(', ')}`, 'messenger_invalid_tag');
  }
  return { recipient, messaging_type: 'MESSAGE_TAG', tag, message };
}

/** The account, or a message naming what is missing (never a value). */
function readAccount(credentials: Credentials, egress: EgressPolicy): PageAccount | string {
  const { page_access_token: accessToken, app_secret: appSecret, page_id: pageId } = credentials;
  if (!accessToken) return 'missing messenger credentials: page_access_token';
  return { ...graphSettings(credentials), egress, accessToken, appSecret, pageId };
}

function describeCheckFailure(res: GraphResponse): string {
  return checkFailureDetail(res, () => undefined);
}
