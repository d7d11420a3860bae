// Jasmin's HTTP API wire formats, written from Jasmin's source (jookies/jasmin,
// jasmin/protocols/http/endpoints/*.py, validation.py, routing/throwers.py) on
// purpose without adapters/: the simulator is a second, independent reading.

/** /send arguments and their patterns (endpoints/send.py render_POST); anything else is "unknown". */
export const SEND_FIELDS: Readonly<Record<string, { optional: boolean; pattern?: RegExp }>> = {
  to: { optional: false, pattern: /^\+?\d+$/ },
  from: { optional: true },
  coding: { optional: true, pattern: /^(0|1|2|3|4|5|6|7|8|9|10|13|14)$/ },
  username: { optional: false, pattern: /^.{1,16}$/ },
  password: { optional: false, pattern: /^.{1,16}$/ },
  priority: { optional: true, pattern: /^[0-3]$/ },
  sdt: { optional: true, pattern: /^\d{12}\d{1}\d{2}(\+|-|R)$/ },
  'validity-period': { optional: true, pattern: /^\d+$/ },
  dlr: { optional: false, pattern: /^(yes|no)$/ },
  'dlr-url': { optional: true, pattern: /^(http|https):\/\/.*$/ },
  'dlr-level': { optional: true, pattern: /^[1-3]$/ },
  'dlr-method': { optional: true, pattern: /^(get|post)$/i },
  tags: { optional: true, pattern: /^([-a-zA-Z0-9,])*$/ },
  content: { optional: true },
  'hex-content': { optional: true },
  custom_tlvs: { optional: true },
};

/** /rate takes /send's arguments minus the DLR and scheduling ones (endpoints/rate.py). */
export const RATE_FIELDS: Readonly<Record<string, { optional: boolean; pattern?: RegExp }>> = Object.fromEntries(
  Object.entries(SEND_FIELDS).filter(([k]) => !['dlr', 'dlr-url', 'dlr-level', 'dlr-method', 'sdt', 'custom_tlvs'].includes(k)),
);

export const BALANCE_FIELDS: Readonly<Record<string, { optional: boolean; pattern?: RegExp }>> = {
  username: SEND_FIELDS.username ?? { optional: false },
  password: SEND_FIELDS.password ?? { optional: false },
};

export class HttpApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** UrlArgsValidator.validate (validation.py), with its exact messages. */
export function validateArgs(args: Record<string, string>, fields: typeof SEND_FIELDS): void {
  const names = Object.keys(args);
  if (names.length === 0) throw new HttpApiError(400, 'Mandatory arguments not found, please refer to the HTTPAPI specifications.');
  for (const name of names) if (!(name in fields)) throw new HttpApiError(400, `Argument [${name}] is unknown.`);
  for (const [name, spec] of Object.entries(fields)) {
    const value = args[name];
    if (value === undefined) {
      if (!spec.optional) throw new HttpApiError(400, `Mandatory argument [${name}] is not found.`);
    } else if (spec.pattern && !spec.pattern.test(value)) {
      throw new HttpApiError(400, `Argument [${name}] has an invalid value: [${value}].`);
    }
  }
}

/**
 * Parts as Jasmin's SMPPOperationFactory.SubmitSM splits a short message of
 * `length` bytes: 160/153 for the 7-bit codings, 70/67 16-bit units for the
 * UCS-2 family, 140/134 for the 8-bit ones; never more than long_content_max_parts.
 */
export function partsOf(length: number, coding: number, maxParts: number): number {
  const [size, single, sliced] = [2, 4, 5, 8, 9, 13, 14].includes(coding)
    ? [length / 2, 70, 67]
    : [3, 6, 7, 10].includes(coding)
      ? [length, 140, 134]
      : [length, 160, 153];
  return size <= single ? 1 : Math.min(maxParts, Math.ceil(size / sliced));
}

const GSM_EXTENSION = new Set('\f^{}\\[~]|€');

/** Bytes of the GSM 03.38 text Jasmin makes of UTF-8 content for coding 0 (extension characters take two). */
export function gsmLength(content: string): number {
  let length = 0;
  for (const ch of content) length += GSM_EXTENSION.has(ch) ? 2 : 1;
  return length;
}

/** A dict as Python's json.dumps writes it (", " and ": "; floats keep their ".0"). */
export function pythonJson(value: Record<string, string | number | { float: number }>): string {
  const item = (v: string | number | { float: number }): string =>
    typeof v === 'object' ? (Number.isInteger(v.float) ? `${v.float}.0` : String(v.float)) : JSON.stringify(v);
  return `{${Object.entries(value)
    .map(([k, v]) => `${JSON.stringify(k)}: ${item(v)}`)
    .join(', ')}}`;
}

/** The receipt dates SMSCs write and Jasmin passes through: YYMMDDhhmm. */
export function receiptDate(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return two(date.getUTCFullYear() % 100) + two(date.getUTCMonth() + 1) + two(date.getUTCDate()) + two(date.getUTCHours()) + two(date.getUTCMinutes());
}

/** Receipt states Jasmin treats as final: it forgets the message's DLR request after one (managers/dlr.py). */
export const FINAL_STATES = new Set(['DELIVRD', 'EXPIRED', 'DELETED', 'UNDELIV', 'REJECTD']);
