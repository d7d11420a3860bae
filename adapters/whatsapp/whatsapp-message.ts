// Our DispatchPayload → the Cloud API's message object.
// https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
import { PermanentSendError, type DispatchPayload, type TemplateRef } from '../types';
import { windowOpen } from '../meta/webhook';

/** Cloud API limit for a text body. */
export const MAX_TEXT_LENGTH = 4096;
/** Meta needs a language for every template; English (US) is the one most accounts create first. */
export const DEFAULT_TEMPLATE_LANGUAGE = 'en_US';

type Parameter = { type: 'text'; text: string; parameter_name?: string };

/**
 * The request body for one message. Free-form text only inside the 24-hour
 * window; outside it only a template may go, so we refuse before calling Meta
 * (who would accept, bill nothing and fail the message later with 131047).
 */
export function messageBody(payload: DispatchPayload, lastInboundAt: Date | undefined, now: number): Record<string, unknown> {
  const common = {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to: payload.to.replace(/\D/g, ''),
    // Comes back on every status webhook of this message: correlation by our own id.
    biz_opaque_callback_data: payload.messageId,
  };
  if (payload.template) return { ...common, type: 'template', template: template(payload.template) };

  if (!payload.body) throw new PermanentSendError('whatsapp needs a body or a template', 'whatsapp_body_missing');
  if ([...payload.body].length > MAX_TEXT_LENGTH) {
    throw new PermanentSendError(`whatsapp text is limited to ${MAX_TEXT_LENGTH} characters`, 'whatsapp_body_too_long');
  }
  if (!windowOpen(lastInboundAt, now)) {
    throw new PermanentSendError('free-form WhatsApp messages need the recipient to have written within 24 hours; send a template', 'whatsapp_window_closed');
  }
  return { ...common, type: 'text', text: { body: payload.body, preview_url: false } };
}

/**
 * Variables keyed "1", "2", … fill positional {{1}}, {{2}} in numeric order;
 * other keys are named parameters ({{first_name}}), which Meta matches by name.
 */
function template(ref: TemplateRef): Record<string, unknown> {
  const entries = Object.entries(ref.variables ?? {});
  const positional = entries.every(([key]) => /^\d+$/.test(key));
  const parameters: Parameter[] = positional
    ? entries.sort(([a], [b]) => Number(a) - Number(b)).map(([, text]) => ({ type: 'text', text }))
    : entries.map(([name, text]) => ({ type: 'text', parameter_name: name, text }));
  return {
    name: ref.name,
    language: { code: ref.language ?? DEFAULT_TEMPLATE_LANGUAGE },
    ...(parameters.length > 0 ? { components: [{ type: 'body', parameters }] } : {}),
  };
}
