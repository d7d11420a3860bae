import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

// Channel credentials are stored encrypted (AES-256-GCM). The current key
// encrypts; previous keys still decrypt, so keys rotate without downtime:
// deploy the new key with the old one in CREDENTIALS_KEY_PREVIOUS, run
// `cli credentials rotate`, then drop the old key.

export interface EncryptedCredentials {
  v: 1;
  /** Which key encrypted it (first 8 hex chars of sha256(key)). */
  kid: string;
  iv: string;
  tag: string;
  ct: string;
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

  encrypt(credentials: Record<string, string>): EncryptedCredentials {
    const key = this.keys.get(this.currentKid) as Buffer;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const ct = Buffer.concat([cipher.update(JSON.stringify(credentials), 'utf8'), cipher.final()]);
    return { v: 1, kid: this.currentKid, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
  }

  /** Decrypts a stored value; a plaintext object (written before encryption was enabled) is returned as is. */
  decrypt(stored: unknown): Record<string, string> {
    if (!isEncrypted(stored)) return (stored ?? {}) as Record<string, string>;
    const key = this.keys.get(stored.kid);
    if (!key) throw new Error(`channel credentials were encrypted with key ${stored.kid}, which is not configured (CREDENTIALS_KEY / CREDENTIALS_KEY_PREVIOUS)`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(stored.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(stored.tag, 'base64'));
    const pt = Buffer.concat([decipher.update(Buffer.from(stored.ct, 'base64')), decipher.final()]);
    return JSON.parse(pt.toString('utf8')) as Record<string, string>;
  }

  needsRotation(stored: unknown): boolean {
    return !isEncrypted(stored) || stored.kid !== this.currentKid;
  }
}

export function isEncrypted(v: unknown): v is EncryptedCredentials {
  return typeof v === 'object' && v !== null && (v as { v?: unknown }).v === 1 && typeof (v as { ct?: unknown }).ct === 'string';
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
