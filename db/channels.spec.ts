import { describe, expect, it } from 'vitest';
import { useSpecChannel, useSpecDatabase } from '../tests/support/spec-database';
import { cachedChannelLookup } from './channels';

describe('channels (real PostgreSQL)', () => {
  const database = useSpecDatabase(2);
  const owner = useSpecChannel(database, 'channels-spec');

  it('cached channel lookup answers from memory within its ttl, then reads again', async () => {
    const lookup = cachedChannelLookup(database.db, 300);
    expect((await lookup(owner.channelId))?.rateLimitPerSecond).not.toBe(7);
    await database.pool.query('UPDATE channels SET rate_limit_per_second = 7 WHERE id = $1', [owner.channelId]);
    expect((await lookup(owner.channelId))?.rateLimitPerSecond).not.toBe(7);
    await new Promise((r) => setTimeout(r, 350));
    expect((await lookup(owner.channelId))?.rateLimitPerSecond).toBe(7);
    expect(await lookup('018f0000-0000-7000-8000-000000000000')).toBeUndefined();
  });
});
