// What an email channel accepts as an address, and how our Message-ID carries our id.

// ASCII addresses only: SMTPUTF8 is not negotiated, so a UTF-8 local part would be refused
// mid-transaction anyway. IDN domains work in their punycode (xn--) form.
const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const TLD = /^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$/;

/** The reason `address` is not a single plain mailbox (no display name, no list), or undefined. */
export function invalidEmailAddress(address: string): string | undefined {
  const reason = 'must be a single email address, e.g. ada@example.com';
  if (address.length > 254) return `${reason} (at most 254 characters)`;
  const at = address.lastIndexOf('@');
  if (at <= 0) return reason;
  const local = address.slice(0, at);
  const labels = address.slice(at + 1).split('.');
  if (local.length > 64 || !LOCAL.test(local)) return reason;
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || !TLD.test(labels[labels.length - 1] ?? '')) return reason;
  return undefined;
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * `<{message id}@{domain}>`: the domain is the sender's (RFC 5322 §3.6.4 wants a
 * domain the generator controls; spam filters look at it), so the id alone is ours.
 */
export function buildMessageId(messageId: string, domain: string): string {
  return `<${messageId}@${domain}>`;
}

/** Our message id from a Message-ID we generated (with or without angle brackets), else undefined. */
export function messageIdFromHeader(value: string | undefined): string | undefined {
  const m = value ? /^\s*<?([^@<>\s]+)@[^<>\s]+>?\s*$/.exec(value) : null;
  const local = m?.[1];
  return isUuid(local) ? local.toLowerCase() : undefined;
}
