// Jasmin's delivery receipts as its DLRThrower sends them to a dlr-url
// (jasmin/routing/throwers.py, DLRThrower.http_dlr_callback): form fields in a
// POST body, or query parameters appended to the dlr-url for GET.
import { WebhookPayloadError, type StatusUpdate, type WebhookRequest } from '../types';
import type { MessageStatus } from '../../lifecycle';

/** Terminal receipts (level 2), stat values of SMPP 3.4 Appendix B as Jasmin passes them on. */
export const RECEIPT_STATUS: Readonly<Record<string, MessageStatus>> = {
  DELIVRD: 'delivered',
  ACCEPTD: 'sent',
  // Jasmin 0.11 refuses to throw ENROUTE, but other gateways in front of it may not.
  ENROUTE: 'sent',
  UNDELIV: 'undelivered',
  EXPIRED: 'undelivered',
  DELETED: 'undelivered',
  // "Message is in invalid state" (SMPP 3.4, 5.2.28): the SMSC has lost track for now and a
  // DELIVRD may still follow, so it names no outcome; the delivery wait decides.
  UNKNOWN: 'sent',
  REJECTD: 'failed',
};

/**
 * submit_sm_resp errors Jasmin retries on its own (sm-listener submit_error_retrial
 * defaults, jasmin/managers/configs.py). Their level-1 receipt says nothing final:
 * Jasmin submits again later, so they must not fail the message.
 */
export const JASMIN_RETRIED_SUBMIT_ERRORS: ReadonlySet<string> = new Set(['ESME_RSYSERR', 'ESME_RTHROTTLED', 'ESME_RMSGQFUL', 'ESME_RINVSCHED']);

type Fields = Readonly<Record<string, string>>;

/** One receipt; [] never (a DLR call always carries exactly one status). */
export function parseDlr(req: WebhookRequest): StatusUpdate {
  const f = dlrFields(req);
  const id = f.id;
  const stat = f.message_status;
  if (!id || !stat) throw new WebhookPayloadError('jasmin DLR lacks id or message_status');

  const update: StatusUpdate = { providerMessageId: id, ...statusOf(stat, f), occurredAt: parseDlrDate(f.donedate) };
  const messageId = single(req.query.message_id);
  if (messageId) update.messageId = messageId;
  return update;
}

function statusOf(stat: string, f: Fields): Pick<StatusUpdate, 'status' | 'errorCode' | 'errorMessage'> {
  // Level 1: the SMSC's submit_sm_resp command_status, by name.
  if (stat.startsWith('ESME_')) {
    if (stat === 'ESME_ROK') return { status: 'sent' };
    if (JASMIN_RETRIED_SUBMIT_ERRORS.has(stat)) {
      return { status: 'sent', errorCode: stat, errorMessage: `SMSC answered ${stat}; Jasmin retries the submit itself` };
    }
    return { status: 'failed', errorCode: stat, errorMessage: `SMSC refused the submit_sm: ${stat}` };
  }
  // Own keys only: '__proto__' or 'constructor' would find Object.prototype's members.
  const status = Object.hasOwn(RECEIPT_STATUS, stat) ? RECEIPT_STATUS[stat] : undefined;
  if (!status) throw new WebhookPayloadError(`unknown jasmin message_status '${stat}'`);
  if (status !== 'undelivered' && status !== 'failed') return { status };
  const err = meaningful(f.err);
  return {
    status,
    errorCode: err ?? stat,
    errorMessage: `SMSC receipt ${stat}${err ? ` (err ${err})` : ''}`,
  };
}

/** Query parameters (GET, plus our message_id/token) overlaid with the form body (POST). */
function dlrFields(req: WebhookRequest): Fields {
  const { body } = req;
  if (typeof body === 'string' && body.length > 0) throw new WebhookPayloadError('jasmin DLR body must be form fields');
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body) || Buffer.isBuffer(body))) {
    throw new WebhookPayloadError('jasmin DLR body must be form fields');
  }
  const fields: Record<string, string> = {};
  for (const source of [req.query, (body ?? {}) as Record<string, unknown>]) {
    for (const [key, value] of Object.entries(source)) {
      const v = single(value);
      if (v !== undefined) fields[key] = v;
    }
  }
  return fields;
}

/** Form parsers turn a repeated key into an array; Jasmin never repeats the fields we read. */
function single(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/** Jasmin fills fields the receipt did not carry with 'ND'; '000' is "no error". */
function meaningful(err: string | undefined): string | undefined {
  return err && err !== 'ND' && !/^0+$/.test(err) ? err : undefined;
}

/**
 * The receipt's "done date" as the SMSC wrote it: YYMMDDhhmm, some SMSCs add ss.
 * SMPP gives it no zone; read it as UTC (the SMSC's local time is unknowable here).
 */
export function parseDlrDate(value: string | undefined): Date | undefined {
  const m = value ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?$/.exec(value) : null;
  if (!m) return undefined;
  const [year, month, day, hour, minute] = m.slice(1, 6).map(Number) as [number, number, number, number, number];
  const second = Number(m[6] ?? 0);
  const at = new Date(Date.UTC(2000 + year, month - 1, day, hour, minute, second));
  // Date.UTC rolls out-of-range parts over (day 32 → next month); a value that does not round-trip is no date.
  const roundTrips = at.getUTCMonth() === month - 1 && at.getUTCDate() === day && at.getUTCHours() === hour && at.getUTCMinutes() === minute;
  return roundTrips && second < 60 ? at : undefined;
}
