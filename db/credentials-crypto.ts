import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

// Channel credentials are stored encrypted (AES-256-GCM). The current key
// encrypts; previous keys still decrypt, so keys rotate without downtime:
// deploy the new key with the old one in CREDENTIALS_KEY_PREVIOUS, run
// `cli credentials rotate`, then drop the old key.
//
// Format 2 authenticates the channel id with the ciphertext (GCM additional data), so a
// ciphertext copied onto another channel's row does not decrypt there. Format 1 (no
// additional data) is still read; `cli credentials rotate` rewrites it as format 2.

export interface EncryptedCredentials {
  /** 2: bound to its channel id; 1: written before that, read until rotated. */
  v: 1 | 2;
  /** Which key encrypted it (first 8 hex chars of sha256(key)). */
  kid: string;
  iv: string;
  tag: string;
  ct: string;
}

/** A stored ciphertext that this process cannot turn back into credentials: a configuration error, never retried. */
export class CredentialsUnreadableError extends Error {
  constructor(
    readonly channelId: string,
    reason: string,
  ) {
    super(`the credentials stored for channel ${channelId} cannot be decrypted: ${reason}`);
    this.name = 'CredentialsUnreadableError';
  }
}

export class Keyring {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKid: string;

  constructor(current: Buffer, previous: Buffer[] = []) {
    for (const k of [current, ...previous]) {
      if (k.length !== 32) throw new Error('credential keys must be 32 bytes (base64 of 32 random bytes)');
      this.keys.set(kidOf(k), k);
    }
    this.currentKid = kidOf(current);
  }

  /** From CREDENTIALS_KEY (base64) and CREDENTIALS_KEY_PREVIOUS (comma-separated base64). */
  static fromBase64(current: string, previous = ''): Keyring {
    return new Keyring(
      Buffer.from(current, 'base64'),
      previous
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)
        .map((p) => Buffer.from(p, 'base64')),
    );
  }

  static generateKey(): string {
    return randomBytes(32).toString('base64');
  }

  /** Encrypts under the current key, bound to `channelId`: only that channel's row decrypts it. */
  encrypt(credentials: Record<string, string>, channelId: string): EncryptedCredentials {
    const key = this.keys.get(this.currentKid) as Buffer;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aadFor(channelId));
    const ct = Buffer.concat([cipher.update(JSON.stringify(credentials), 'utf8'), cipher.final()]);
    return { v: 2, kid: this.currentKid, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
  }

  /**
   * Decrypts the value stored on channel `channelId`'s row; a plaintext object (written before
   * encryption was enabled) is returned as is. A ciphertext of another channel, an altered one or
   * one under a key not configured throws CredentialsUnreadableError, which names no secret.
   */
  decrypt(stored: unknown, channelId: string): Record<string, string> {
    if (!isEncrypted(stored)) return (stored ?? {}) as Record<string, string>;
    const key = this.keys.get(stored.kid);
    if (!key)
      throw new CredentialsUnreadableError(
        channelId,
        `they were encrypted with key ${stored.kid}, which is not configured (CREDENTIALS_KEY / CREDENTIALS_KEY_PREVIOUS)`,
      );
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(stored.iv, 'base64'));
      if (stored.v === 2) decipher.setAAD(aadFor(channelId));
      decipher.setAuthTag(Buffer.from(stored.tag, 'base64'));
      const pt = Buffer.concat([decipher.update(Buffer.from(stored.ct, 'base64')), decipher.final()]);
      return JSON.parse(pt.toString('utf8')) as Record<string, string>;
    } catch {
      throw new CredentialsUnreadableError(channelId, 'the ciphertext does not authenticate for this channel (copied from another channel, or altered)');
    }
  }

  /** True for plaintext, the unbound format 1, and anything not under the current key. */
  needsRotation(stored: unknown): boolean {
    return !isEncrypted(stored) || stored.v !== 2 || stored.kid !== this.currentKid;
  }
}

export function isEncrypted(v: unknown): v is EncryptedCredentials {
  const version = typeof v === 'object' && v !== null ? (v as { v?: unknown }).v : undefined;
  return (version === 1 || version === 2) && typeof (v as { ct?: unknown }).ct === 'string';
}

function aadFor(channelId: string): Buffer {
  return Buffer.from(`turumba-channel-credentials:${channelId}`, 'utf8');
}

function kidOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

let active: Keyring | undefined;

/** Set once at process start (api, worker, cli, dev stack, tests). */
export function useKeyring(keyring: Keyring): void {
  active = keyring;
}

export function keyring(): Keyring {
  if (!active) throw new Error('channel credential encryption is not configured: CREDENTIALS_KEY is required');
  return active;
}
