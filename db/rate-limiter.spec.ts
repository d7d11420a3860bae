import { describe, expect, it } from 'vitest';
import { useSpecDatabase } from '../tests/support/spec-database';
import { reserveSlot } from './rate-limiter';
import { uuidv7 } from './uuidv7';

describe('shared rate limiter (real PostgreSQL)', () => {
  const database = useSpecDatabase(4);

  it('spaces a burst into consecutive reserved slots of 1/rate', async () => {
    const channelId = uuidv7();
    const now = new Date('2026-11-28T10:00:00.000Z');
    const slots = [];
    for (let i = 0; i < 5; i++) slots.push(await reserveSlot(database.db, { channelId, perSecond: 20 }, now));
    expect(slots.map((s) => s.waitMs)).toEqual([0, 50, 100, 150, 200]);
    expect(slots.every((s) => s.reserved)).toBe(true);
    // Later, the bucket has drained: the next send may go at once.
    expect(await reserveSlot(database.db, { channelId, perSecond: 20 }, new Date(now.getTime() + 1000))).toEqual({ waitMs: 0, reserved: true });
  });

  it('holds under concurrent callers: every slot distinct', async () => {
    const channelId = uuidv7();
    const now = new Date('2026-11-28T10:00:00.000Z');
    const slots = await Promise.all(Array.from({ length: 40 }, () => reserveSlot(database.db, { channelId, perSecond: 100 }, now)));
    const waits = slots.map((s) => s.waitMs).sort((a, b) => a - b);
    expect(waits).toEqual(Array.from({ length: 40 }, (_, i) => i * 10));
  });

  it('refuses past the daily limit until the next UTC day', async () => {
    const channelId = uuidv7();
    const now = new Date('2026-11-28T23:00:00.000Z');
    for (let i = 0; i < 3; i++) expect((await reserveSlot(database.db, { channelId, perSecond: 1000, dailyLimit: 3 }, now)).reserved).toBe(true);
    const refused = await reserveSlot(database.db, { channelId, perSecond: 1000, dailyLimit: 3 }, now);
    expect(refused).toEqual({ waitMs: 3_600_000, reserved: false, reason: 'daily_limit' });
    const tomorrow = await reserveSlot(database.db, { channelId, perSecond: 1000, dailyLimit: 3 }, new Date('2026-11-29T00:00:01.000Z'));
    expect(tomorrow.reserved).toBe(true);
  });

  it('does not reserve beyond the horizon', async () => {
    const channelId = uuidv7();
    const now = new Date('2026-11-28T10:00:00.000Z');
    const first = await reserveSlot(database.db, { channelId, perSecond: 1, horizonMs: 1500 }, now);
    const second = await reserveSlot(database.db, { channelId, perSecond: 1, horizonMs: 1500 }, now);
    expect([first.waitMs, second.waitMs]).toEqual([0, 1000]);
    // The next free slot is 2 s away, past the 1.5 s horizon: come back when it is within it.
    const r = await reserveSlot(database.db, { channelId, perSecond: 1, horizonMs: 1500 }, now);
    expect(r).toEqual({ waitMs: 500, reserved: false, reason: 'horizon' });
  });
});
