import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, type Database } from './client';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { CredentialsUnreadableError, Keyring, keyring, useKeyring } from './credentials-crypto';
import { createAccount } from './accounts';
import { createChannel, getChannel, rotateChannelCredentials } from './channels';

const SECRET = { api_secret: 'very-secret-value-123', account_sid: 'AC1' };
const CHANNEL_A = '01900000-0000-7000-8000-00000000000a';
const CHANNEL_B = '01900000-0000-7000-8000-00000000000b';

/** A ciphertext as written before credentials were bound to their channel (format 1: no additional data). */
function formatOne(key: Buffer, credentials: Record<string, string>) {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([cipher.update(JSON.stringify(credentials), 'utf8'), cipher.final()]);
  const kid = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return { v: 1, kid, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
}

describe('credential encryption at rest', () => {
  it('round-trips, authenticates, and refuses a tampered ciphertext', () => {
    const ring = new Keyring(Buffer.alloc(32, 1));
    const enc = ring.encrypt(SECRET, CHANNEL_A);
    expect(JSON.stringify(enc)).not.toContain('very-secret');
    expect(ring.decrypt(enc, CHANNEL_A)).toEqual(SECRET);
    const tampered = { ...enc, ct: Buffer.from(Buffer.from(enc.ct, 'base64').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64') };
    expect(() => ring.decrypt(tampered, CHANNEL_A)).toThrow();
  });

  it('decrypts with a previous key during rotation and names a missing key', () => {
    const oldRing = new Keyring(Buffer.alloc(32, 1));
    const enc = oldRing.encrypt(SECRET, CHANNEL_A);
    const rotated = new Keyring(Buffer.alloc(32, 2), [Buffer.alloc(32, 1)]);
    expect(rotated.decrypt(enc, CHANNEL_A)).toEqual(SECRET);
    expect(rotated.needsRotation(enc)).toBe(true);
    expect(rotated.needsRotation(rotated.encrypt(SECRET, CHANNEL_A))).toBe(false);
    expect(() => new Keyring(Buffer.alloc(32, 3)).decrypt(enc, CHANNEL_A)).toThrow(/not configured/);
  });

  it("binds a ciphertext to its channel id: another channel's row cannot decrypt it, and the error names no secret", () => {
    const ring = new Keyring(Buffer.alloc(32, 1));
    const enc = ring.encrypt(SECRET, CHANNEL_A);
    expect(enc.v).toBe(2);
    expect(ring.decrypt(enc, CHANNEL_A)).toEqual(SECRET);
    let err: unknown;
    try {
      ring.decrypt(enc, CHANNEL_B);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CredentialsUnreadableError);
    expect((err as Error).message).toBe(
      `the credentials stored for channel ${CHANNEL_B} cannot be decrypted: the ciphertext does not authenticate for this channel (copied from another channel, or altered)`,
    );
    expect((err as Error).message).not.toContain('very-secret');
  });

  it('still reads format 1 (unbound) ciphertexts, and marks them for rotation', () => {
    const key = Buffer.alloc(32, 1);
    const ring = new Keyring(key);
    const old = formatOne(key, SECRET);
    expect(ring.decrypt(old, CHANNEL_A)).toEqual(SECRET);
    expect(ring.needsRotation(old)).toBe(true);
    expect(ring.needsRotation(ring.encrypt(SECRET, CHANNEL_A))).toBe(false);
  });

  describe('through the repository (real PostgreSQL)', () => {
    let database: Database;
    let original: Keyring;
    beforeAll(() => {
      database = connect(inject('databaseUrl'), { max: 2 });
      original = keyring();
    });
    afterAll(async () => {
      useKeyring(original);
      await database.close();
    });

    it('stores only ciphertext, reads back clear, and re-encrypts under a new key', async () => {
      const accountId = (await createAccount(database.db, 'crypto')).id;
      const channel = await createChannel(database.db, { accountId, channelType: 'sms', provider: 'twilio', name: 'c', credentials: SECRET });
      const raw = await database.pool.query<{ c: string }>('SELECT credentials::text AS c FROM channels WHERE id = $1', [channel.id]);
      expect(raw.rows[0]?.c).not.toContain('very-secret');
      expect((await getChannel(database.db, channel.id))?.credentials).toEqual(SECRET);

      const next = Keyring.generateKey();
      useKeyring(Keyring.fromBase64(next, process.env.CREDENTIALS_KEY ?? ''));
      expect(await rotateChannelCredentials(database.db)).toBeGreaterThanOrEqual(1);
      useKeyring(Keyring.fromBase64(next));
      expect((await getChannel(database.db, channel.id))?.credentials).toEqual(SECRET);
      // Rotate back: other test files share this database and the run's key.
      useKeyring(Keyring.fromBase64(process.env.CREDENTIALS_KEY ?? '', next));
      await rotateChannelCredentials(database.db);
    });

    it("a ciphertext copied onto another channel's row fails there; format 1 rows still read, and rotate rewrites them bound", async () => {
      const accountId = (await createAccount(database.db, 'crypto binding')).id;
      const a = await createChannel(database.db, { accountId, channelType: 'sms', provider: 'twilio', name: 'a', credentials: SECRET });
      const b = await createChannel(database.db, {
        accountId,
        channelType: 'sms',
        provider: 'twilio',
        name: 'b',
        credentials: { api_secret: 'b-secret-value-456' },
      });
      await database.pool.query('UPDATE channels SET credentials = (SELECT credentials FROM channels WHERE id = $1) WHERE id = $2', [a.id, b.id]);
      await expect(getChannel(database.db, b.id)).rejects.toThrow(CredentialsUnreadableError);
      await expect(getChannel(database.db, b.id)).rejects.not.toThrow(/very-secret/);
      expect((await getChannel(database.db, a.id))?.credentials).toEqual(SECRET);

      const legacy = await createChannel(database.db, { accountId, channelType: 'sms', provider: 'twilio', name: 'legacy', credentials: {} });
      const runKey = Buffer.from(process.env.CREDENTIALS_KEY ?? '', 'base64');
      await database.pool.query('UPDATE channels SET credentials = $1::jsonb WHERE id = $2', [JSON.stringify(formatOne(runKey, SECRET)), legacy.id]);
      expect((await getChannel(database.db, legacy.id))?.credentials).toEqual(SECRET);
      // Put b right again so the rotation below (over every channel of the shared database) can read it.
      await database.pool.query('UPDATE channels SET credentials = $1::jsonb WHERE id = $2', [
        JSON.stringify(keyring().encrypt({ api_secret: 'b' }, b.id)),
        b.id,
      ]);

      expect(await rotateChannelCredentials(database.db)).toBeGreaterThanOrEqual(1);
      const raw = await database.pool.query<{ v: number }>("SELECT (credentials->>'v')::int AS v FROM channels WHERE id = $1", [legacy.id]);
      expect(raw.rows[0]?.v).toBe(2);
      expect((await getChannel(database.db, legacy.id))?.credentials).toEqual(SECRET);
      // Bound now: the upgraded ciphertext does not open on another row either.
      await database.pool.query('UPDATE channels SET credentials = (SELECT credentials FROM channels WHERE id = $1) WHERE id = $2', [legacy.id, b.id]);
      await expect(getChannel(database.db, b.id)).rejects.toThrow(/cannot be decrypted/);
      await database.pool.query('DELETE FROM channels WHERE id = $1', [b.id]);
    });
  });
});
