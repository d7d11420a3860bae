// How a text travels over SMPP: GSM 03.38 (7-bit, data_coding 0) when every
// character has a GSM code, else UCS-2 (data_coding 8), and how many SMS parts
// the SMSC will see once Jasmin splits it.

/** GSM 03.38 basic character set (ESC, 0x1B, left out: it only introduces the extension table). */
const GSM7_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
/** GSM 03.38 extension table: each costs two septets (ESC + code). */
const GSM7_EXTENSION = new Set('\f^{}\\[~]|€');

export type SmsCoding = 0 | 8;

/** Septets the text needs in GSM-7, or undefined when a character has no GSM code. */
export function gsm7Length(text: string): number | undefined {
  let septets = 0;
  for (const ch of text) {
    if (GSM7_BASIC.has(ch)) septets += 1;
    else if (GSM7_EXTENSION.has(ch)) septets += 2;
    else return undefined;
  }
  return septets;
}

/**
 * Parts after concatenation: a single SMS carries 160 septets or 70 UCS-2 units;
 * each part of a long one loses 7 septets / 3 units to the UDH. The same split
 * Jasmin's SMPPOperationFactory.SubmitSM makes (jasmin/protocols/smpp/operations.py).
 */
export function smsParts(text: string, coding: SmsCoding): number {
  const length = coding === 0 ? (gsm7Length(text) ?? Infinity) : ucs2(text).length / 2;
  const [single, sliced] = coding === 0 ? [160, 153] : [70, 67];
  return length <= single ? 1 : Math.ceil(length / sliced);
}

/** UTF-16BE bytes: what data_coding 8 means on the wire (astral characters as surrogate pairs). */
export function ucs2(text: string): Buffer {
  return Buffer.from(text, 'utf16le').swap16();
}

/** data_coding 0 when the text fits GSM-7, else 8; `forced` 8 always sends UCS-2. */
export function pickCoding(text: string, forced?: SmsCoding): SmsCoding {
  if (forced === 8) return 8;
  return gsm7Length(text) === undefined ? 8 : 0;
}
