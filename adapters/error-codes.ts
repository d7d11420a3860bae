// What a message's error_code means, in one line, for people: the CLI prints it beside the
// code, and the API may too. The provider tables stay where the adapters classify them;
// this file only reads their reasons, so a code is explained where it is decided.
import { MESSENGER_ERRORS } from './messenger/messenger-errors';
import { JASMIN_SEND_ERRORS } from './smpp/jasmin-errors';
import { TWILIO_ERROR_CODES } from './sms/twilio-errors';
import type { ChannelType } from '../lifecycle';
import { WHATSAPP_ERRORS } from './whatsapp/whatsapp-errors';

type Catalog = Readonly<Record<string, string>>;

/** Codes the engine writes itself (activities, workflows, group batches), on any channel. */
export const ENGINE_ERROR_CODES: Catalog = {
  delivery_timeout: 'the provider accepted the message but no delivery receipt came within the delivery wait (DELIVERY_WAIT_SECONDS)',
  group_cancelled: 'the group was cancelled before this recipient was sent',
  group_content_missing: "the group's stored content is missing, so nothing could be sent",
  content_too_large: "the group's content, rendered for this recipient, is over the channel's size limit",
  credentials_unreadable: "the channel's stored credentials cannot be decrypted (copied from another channel, or CREDENTIALS_KEY missing): store them again",
  channel_disabled: 'the channel was disabled or missing when the message was due to be sent',
  send_gate: "the channel's send gate stayed saturated until the retries ran out",
  message_not_found: "the message's row was missing when its workflow ran",
  unknown: 'the send failed without a code: see the workflow in the Web UI',
  unexpected: 'an unexpected error in the send path (not a provider answer): see the worker log',
  PermanentSendError: 'a permanent send failure without a more specific code',
  TransientSendError: 'transient send failures until the retries ran out (SEND_MAX_ATTEMPTS)',
  RateLimitedError: 'rate-limited until the retries ran out (SEND_MAX_ATTEMPTS)',
  TimeoutFailure: 'the send activity timed out on every attempt (a hung provider call or worker)',
};

/** Codes adapters write by name: credentials, content checks, egress, transport. */
export const ADAPTER_ERROR_CODES: Catalog = {
  missing_credentials: "the channel's credentials lack a required field",
  invalid_credentials: "the channel's credentials are malformed or refused by the provider",
  unexpected_response: 'the provider accepted the request but its answer had no message id',
  client_error: 'the provider client failed before any answer (see the message)',
  timeout: 'the provider did not answer in time (retried until SEND_MAX_ATTEMPTS)',
  network: 'the provider could not be reached: connection refused, reset or DNS (retried)',
  aborted: 'the provider call was aborted (worker shutdown or activity cancelled)',
  egress_refused: 'the egress policy refused the target (a private or internal address not on EGRESS_ALLOW)',
  egress_redirect: 'the provider answered with a redirect, which is never followed',
  egress_response_too_large: "the provider's answer was larger than 1 MiB",
  whatsapp_window_closed: 'free-form WhatsApp text needs the recipient to have written in the last 24 hours: send a template',
  whatsapp_body_missing: 'a WhatsApp message needs a body or a template',
  whatsapp_body_too_long: 'WhatsApp text is over 4,096 characters',
  messenger_window_closed: 'outside the 24-hour window and without metadata.message_tag',
  messenger_body_missing: 'a Messenger message needs a text body',
  messenger_body_too_long: 'Messenger text is over 2,000 characters',
  messenger_invalid_tag: 'metadata.message_tag is not a tag Messenger accepts',
  jasmin_no_content: 'an SMPP message needs a text body',
  jasmin_too_long: 'the text needs more SMS parts than the Jasmin user allows (long_content_max_parts)',
  jasmin_bad_response: "Jasmin answered 200 without a message id: base_url may not be Jasmin's HTTP API (:1401)",
  invalid_address: 'the recipient is not a valid email address',
  invalid_from: 'from is not a valid email address',
  missing_subject: 'an email needs a subject',
  missing_body: 'an email needs a body or html (templates are not supported)',
  smtp_auth_failed: 'the SMTP server refused the username or password',
  smtp_tls_certificate: "the SMTP server's TLS certificate was rejected",
  smtp_tls: 'the TLS handshake with the SMTP server failed (retried)',
  smtp_connection: 'the SMTP server could not be reached or refused the connection (retried)',
  smtp_timeout: 'the SMTP server did not answer in time (retried)',
  smtp_socket: 'the SMTP connection broke (retried)',
  smtp_dns: "the SMTP server's name did not resolve (retried)",
  smtp_proxy: 'the proxy to the SMTP server failed (retried)',
  smtp_protocol: 'the SMTP server broke the protocol (retried)',
  smtp_aborted: 'the SMTP session was aborted (retried)',
  smtp_invalid_message: 'the message or its envelope is invalid for SMTP',
  smtp_error: 'an SMTP client error without a reply code (retried)',
  sendgrid_bounce: 'SendGrid: the receiving server refused the address (hard bounce)',
  sendgrid_blocked: 'SendGrid: the receiving server refused the sender (reputation or policy block)',
  sendgrid_dropped: 'SendGrid dropped it without sending (suppressed address, earlier bounce or spam report)',
  ses_reject: 'SES rejected it before sending (a virus or policy)',
  ses_rendering_failure: 'SES could not render the template',
};

/** Twilio's delivery error codes, as ErrorCode on a status callback (https://www.twilio.com/docs/api/errors). */
const TWILIO_DELIVERY_CODES: Catalog = {
  '30001': "Twilio: queue overflow (the 'From' number sent faster than it may)",
  '30002': 'Twilio: account suspended',
  '30003': 'Twilio: unreachable destination handset (off or out of coverage)',
  '30004': 'Twilio: message blocked (the recipient or carrier blocks it)',
  '30005': 'Twilio: unknown destination handset (the number does not exist)',
  '30006': 'Twilio: landline or unreachable carrier',
  '30007': 'Twilio: filtered by the carrier (spam or content policy)',
  '30008': 'Twilio: unknown error from the carrier',
  '30009': 'Twilio: a segment of the message is missing',
  '30010': "Twilio: the price exceeds the message's max price",
  '30034': 'Twilio: US A2P 10DLC — the sending number is not registered to a campaign',
};

/** SMPP command_status names (submit_sm_resp) and receipt stats, as Jasmin passes them on (SMPP 3.4 §5.1.3, Appendix B). */
const SMPP_CODES: Catalog = {
  ESME_RSYSERR: 'the SMSC had a system error (Jasmin retries the submit)',
  ESME_RTHROTTLED: 'the SMSC throttled the submit (Jasmin retries it)',
  ESME_RMSGQFUL: "the SMSC's message queue is full (Jasmin retries the submit)",
  ESME_RINVSCHED: 'the SMSC refused the scheduled delivery time (Jasmin retries the submit)',
  ESME_RINVDSTADR: 'the SMSC refused the destination address',
  ESME_RINVSRCADR: 'the SMSC refused the source address (from)',
  ESME_RINVMSGLEN: 'the SMSC refused the message length',
  ESME_RSUBMITFAIL: 'the SMSC could not accept the submit_sm',
  UNDELIV: 'the SMSC could not deliver it',
  EXPIRED: "the message's validity period expired before delivery",
  DELETED: 'the message was deleted at the SMSC',
  REJECTD: 'the SMSC rejected the message',
};

/** SMTP reply codes (RFC 5321 §4.2, RFC 4954), as `smtp_<reply>`. */
const SMTP_REPLIES: Readonly<Record<string, string>> = {
  '421': 'service not available, closing the connection',
  '450': 'mailbox unavailable (busy or greylisted)',
  '451': 'local error in processing',
  '452': 'insufficient system storage',
  '454': 'temporary authentication failure, or TLS not available',
  '503': 'bad sequence of commands',
  '530': 'authentication required',
  '535': 'authentication credentials invalid',
  '541': 'refused by the recipient server (spam policy)',
  '550': 'mailbox unavailable (no such user, or refused by policy)',
  '551': 'user not local',
  '552': 'mailbox over its storage allocation',
  '553': 'mailbox name not allowed',
  '554': 'transaction failed (often refused as spam)',
};

const reasons = (table: Readonly<Record<string, { reason: string }>>, provider: string): Catalog =>
  Object.fromEntries(Object.entries(table).map(([code, r]) => [code, `${provider}: ${r.reason}`]));

/** Provider codes by channel type: the same number means different things at Twilio and at Meta. */
const PROVIDER_CODES: Readonly<Record<ChannelType, Catalog>> = {
  sms: { ...reasons(TWILIO_ERROR_CODES, 'Twilio'), ...TWILIO_DELIVERY_CODES },
  whatsapp: reasons(WHATSAPP_ERRORS, 'WhatsApp'),
  messenger: reasons(MESSENGER_ERRORS, 'Messenger'),
  email: {},
  smpp: { ...Object.fromEntries(JASMIN_SEND_ERRORS.map((r) => [r.code, `Jasmin: ${r.reason}`])), ...SMPP_CODES },
};

/** Codes made of a prefix and a value the provider chose. */
const PATTERNS: ReadonlyArray<[RegExp, (m: RegExpMatchArray) => string]> = [
  [
    /^smtp_(\d{3})$/,
    (m) =>
      `the SMTP server answered ${m[1]}${SMTP_REPLIES[m[1] ?? ''] ? `: ${SMTP_REPLIES[m[1] ?? '']}` : ''}${(m[1] ?? '').startsWith('4') ? ' (retried)' : ''}`,
  ],
  [
    /^http_(\d{3})$/,
    (m) => `the provider answered HTTP ${m[1]}${Number(m[1]) >= 500 || m[1] === '408' ? ' (retried until SEND_MAX_ATTEMPTS)' : ' (not retried)'}`,
  ],
  [/^ses_bounce_([a-z_]+)$/, (m) => `SES: permanent bounce (${(m[1] ?? '').replace(/_/g, ' ')})`],
];

/**
 * One line on what `code` means, or undefined when it is not known here. A provider code is
 * read in its channel's table; without `channelType` the first table that knows it answers.
 */
export function describeErrorCode(code: string, channelType?: string): string | undefined {
  const own = (c: Catalog) => (Object.hasOwn(c, code) ? c[code] : undefined);
  const found = own(ENGINE_ERROR_CODES) ?? own(ADAPTER_ERROR_CODES);
  if (found) return found;
  const tables =
    channelType !== undefined && Object.hasOwn(PROVIDER_CODES, channelType) ? [PROVIDER_CODES[channelType as ChannelType]] : Object.values(PROVIDER_CODES);
  for (const table of tables) {
    const hit = own(table);
    if (hit) return hit;
  }
  for (const [pattern, say] of PATTERNS) {
    const m = code.match(pattern);
    if (m) return say(m);
  }
  return undefined;
}
