import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, type Database } from './client';
import { Keyring, keyring, useKeyring } from './credentials-crypto';
import { createAccount, createChannel, getChannel, rotateChannelCredentials } from './repo';

const SECRET = { api_secret: 'very-secret-value-123', account_sid: 'AC1' };

describe('credential encryption at rest', () => {
  it('round-trips, authenticates, and refuses a tampered ciphertext', () => {
    const ring = new Keyring(Buffer.alloc(32, 1));
    const enc = ring.encrypt(SECRET);
    expect(JSON.stringify(enc)).not.toContain('very-secret');
    expect(ring.decrypt(enc)).toEqual(SECRET);
    const tampered = { ...enc, ct: Buffer.from(Buffer.from(enc.ct, 'base64').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64') };
    expect(() => ring.decrypt(tampered)).toThrow();
  });

  it('decrypts with a previous key during rotation and names a missing key', () => {
    const oldRing = new Keyring(Buffer.alloc(32, 1));
    const enc = oldRing.encrypt(SECRET);
    const rotated = new Keyring(Buffer.alloc(32, 2), [Buffer.alloc(32, 1)]);
    expect(rotated.decrypt(enc)).toEqual(SECRET);
    expect(rotated.needsRotation(enc)).toBe(true);
    expect(rotated.needsRotation(rotated.encrypt(SECRET))).toBe(false);
    expect(() => new Keyring(Buffer.alloc(32, 3)).decrypt(enc)).toThrow(/not configured/);
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
  });
});
