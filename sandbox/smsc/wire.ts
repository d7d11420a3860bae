// SMPP v3.4 details the peer needs beyond what the `smpp` package decodes:
// receipt text (Appendix B), message states (§5.2.28) and concatenation (UDH IE 0x00/0x08, sar_* TLVs).

export const RECEIPT_STATS = ['DELIVRD', 'EXPIRED', 'DELETED', 'UNDELIV', 'ACCEPTD', 'UNKNOWN', 'REJECTD'] as const;
export type ReceiptStat = (typeof RECEIPT_STATS)[number];

/** message_state TLV values, SMPP v3.4 §5.2.28: it numbers the states above 2 to 8, in that order. */
export const MESSAGE_STATE = Object.fromEntries(RECEIPT_STATS.map((stat, i) => [stat, i + 2])) as Readonly<Record<ReceiptStat, number>>;

/** Command status codes the peer answers with (SMPP v3.4 §5.1.3). */
export const STATUS = {
  ESME_ROK: 0x00,
  ESME_RINVMSGLEN: 0x01,
  ESME_RINVCMDID: 0x03,
  ESME_RINVBNDSTS: 0x04,
  ESME_RALYBND: 0x05,
  ESME_RSYSERR: 0x08,
  ESME_RINVDSTADR: 0x0b,
  ESME_RINVPASWD: 0x0e,
  ESME_RINVSYSID: 0x0f,
  ESME_RMSGQFUL: 0x14,
  ESME_RTHROTTLED: 0x58,
} as const;

export const ESM_CLASS_RECEIPT = 0x04;
export const ESM_CLASS_UDHI = 0x40;

/** YYMMDDhhmm in UTC, the receipt's date format. */
export function receiptDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
}

export interface ReceiptFields {
  id: string;
  submittedAt: Date;
  doneAt: Date;
  stat: ReceiptStat;
  err: string;
  /** First characters of the message, as SMSCs echo them. */
  text: string;
}

/** The de-facto receipt format of SMPP v3.4 Appendix B. */
export function receiptText(r: ReceiptFields): string {
  const dlvrd = r.stat === 'DELIVRD' ? '001' : '000';
  return (
    `id:${r.id} sub:001 dlvrd:${dlvrd} submit date:${receiptDate(r.submittedAt)} ` +
    `done date:${receiptDate(r.doneAt)} stat:${r.stat} err:${r.err} text:${r.text.slice(0, 20)}`
  );
}

/** Where one part sits in a concatenated message; undefined for a single-part message. */
export interface PartInfo {
  ref: number;
  total: number;
  seq: number;
  via: 'udh8' | 'udh16' | 'sar';
}

/** Reads concatenation from the UDH information elements the `smpp` package split out, or from sar_* TLVs. */
export function partInfo(udh: readonly Buffer[] | undefined, tlvs: { ref?: unknown; total?: unknown; seq?: unknown }): PartInfo | undefined {
  for (const ie of udh ?? []) {
    if (ie[0] === 0x00 && ie[1] === 3 && ie.length >= 5) return { ref: ie[2] ?? 0, total: ie[3] ?? 0, seq: ie[4] ?? 0, via: 'udh8' };
    if (ie[0] === 0x08 && ie[1] === 4 && ie.length >= 6) return { ref: ie.readUInt16BE(2), total: ie[4] ?? 0, seq: ie[5] ?? 0, via: 'udh16' };
  }
  if (typeof tlvs.ref === 'number' && typeof tlvs.total === 'number' && typeof tlvs.seq === 'number') {
    return { ref: tlvs.ref, total: tlvs.total, seq: tlvs.seq, via: 'sar' };
  }
  return undefined;
}
