import { randomBytes } from 'node:crypto';

// UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, then random bits. A message's
// created_at is its id's timestamp, so the id alone names its partition.

let lastMs = 0;
let seq = 0;

export function uuidv7(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  // A 12-bit counter in rand_a keeps ids from one process sortable within a millisecond.
  if (now === lastMs) {
    seq = (seq + 1) & 0xfff;
  } else {
    lastMs = now;
    seq = bytes.readUInt16BE(6) & 0x7ff;
  }
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | (seq >> 8);
  bytes[7] = seq & 0xff;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const UUID_ANY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_ANY.test(value);
}

/** 9999-12-31T23:59:59.999Z: a later time fits the 48 bits but neither an ISO string nor a Postgres timestamp. */
const MAX_TIME_MS = 253_402_300_799_999;

export function isUuidv7(value: string): boolean {
  return UUID_V7.test(value) && parseInt(value.slice(0, 8) + value.slice(9, 13), 16) <= MAX_TIME_MS;
}

/** The creation time encoded in a UUIDv7. */
export function uuidv7Time(id: string): Date {
  if (!isUuidv7(id)) throw new Error(`not a UUIDv7: ${id}`);
  return new Date(parseInt(id.replace(/-/g, '').slice(0, 12), 16));
}
