import {
  E164,
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
import { MetaWebhookAdapter } from '../meta/webhook';
import { WHATSAPP_ERRORS } from './whatsapp-errors';
import { messageBody } from './whatsapp-message';
import { parseInbound, parseStatusUpdates } from './whatsapp-webhook';

interface WhatsAppAccount extends GraphTarget {
  phoneNumberId: string;
}

/** WhatsApp Business Cloud API: text and template messages from one business phone number. */
export class WhatsAppAdapter extends MetaWebhookAdapter implements ChannelAdapter {
  readonly channelType = 'whatsapp' as const;
  readonly provider = 'default';
  readonly usesConversationWindow = true;
  /** Cloud API's default throughput per business phone number. */
  readonly defaultRateLimitPerSecond = 80;
  readonly requiredCredentials = ['access_token', 'phone_number_id', 'app_secret'] as const;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly egress: EgressPolicy = new EgressPolicy(),
  ) {
    super();
  }

  validateAddress(to: string): string | undefined {
    return E164.test(to) ? undefined : 'must be an E.164 phone number, e.g. +14155550100';
  }

  async send(payload: DispatchPayload, credentials: Credentials, ctx: SendContext): Promise<DispatchResult> {
    const account = readAccount(credentials, this.egress);
    if (typeof account === 'string') throw new PermanentSendError(account, 'missing_credentials');
    const json = messageBody(payload, ctx.lastInboundAt, this.now());

    const path = `${encodeURIComponent(account.phoneNumberId)}/messages`;
    const res = await graphSend('whatsapp', account, { method: 'POST', path, json, traceId: ctx.traceId, signal: ctx.signal }, WHATSAPP_ERRORS);

    const body = res.body as { messages?: Array<{ id?: unknown; message_status?: unknown }>; contacts?: Array<{ wa_id?: unknown }> };
    const accepted = body?.messages?.[0];
    // Meta took the request; sending again could deliver twice, so this is not retried.
    if (typeof accepted?.id !== 'string') throw new PermanentSendError('whatsapp accepted the request without a message id', 'unexpected_response');
    return {
      providerMessageId: accepted.id,
      status: 'queued',
      raw: { id: accepted.id, message_status: accepted.message_status, wa_id: body.contacts?.[0]?.wa_id },
    };
  }

  async verifyCredentials(credentials: Credentials): Promise<CredentialCheck> {
    const account = readAccount(credentials, this.egress);
    if (typeof account === 'string') return { ok: false, detail: account };
    try {
      const res = await graphFetch(account, {
        method: 'GET',
        path: encodeURIComponent(account.phoneNumberId),
        query: { fields: 'display_phone_number,verified_name,quality_rating' },
      });
      if (res.status !== 200) return { ok: false, detail: describeCheckFailure(res, account.phoneNumberId) };
      const phone = res.body as { display_phone_number?: unknown; verified_name?: unknown; quality_rating?: unknown } | undefined;
      return {
        ok: true,
        detail: `phone number ${shown(phone?.display_phone_number)} (${shown(phone?.verified_name)}), quality ${shown(phone?.quality_rating)}`,
      };
    } catch (err) {
      return { ok: false, detail: unreachableDetail(err) };
    }
  }

  egressTargets(credentials: Credentials): EgressTarget[] {
    return urlTarget('base_url', credentials.base_url, GRAPH_BASE_URL);
  }

  parseInbound(req: WebhookRequest, credentials: Credentials): InboundMessage[] {
    return parseInbound(req, credentials.phone_number_id);
  }

  parseStatusUpdates(req: WebhookRequest, credentials: Credentials): StatusUpdate[] {
    return parseStatusUpdates(req, credentials.phone_number_id);
  }
}

/** The account, or a message naming what is missing (never a value). */
function readAccount(credentials: Credentials, egress: EgressPolicy): WhatsAppAccount | string {
  const { access_token: accessToken, phone_number_id: phoneNumberId, app_secret: appSecret } = credentials;
  if (!accessToken || !phoneNumberId) {
    const missing = ['access_token', 'phone_number_id'].filter((name) => !credentials[name]);
    return `missing whatsapp credentials: ${missing.join(', ')}`;
  }
  return { ...graphSettings(credentials), egress, accessToken, appSecret, phoneNumberId };
}

function describeCheckFailure(res: GraphResponse, phoneNumberId: string): string {
  return checkFailureDetail(res, (err, code) =>
    err.code === 100 ? `phone number id ${phoneNumberId} not found or not accessible with this token (${code})` : undefined,
  );
}
