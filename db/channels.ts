import { randomBytes } from 'node:crypto';
import { and, asc, eq, getTableColumns, gt, sql } from 'drizzle-orm';
import type { ChannelType } from '../lifecycle';
import type { Db } from './client';
import { keyring } from './credentials-crypto';
import { channels, type ChannelRow } from './schema';
import { uuidv7 } from './uuidv7';

export interface NewChannel {
  accountId: string;
  channelType: ChannelType;
  provider: string;
  name: string;
  credentials: Record<string, string>;
  rateLimitPerSecond?: number | null;
  dailyLimit?: number | null;
  sandbox?: boolean;
  webhookSignatureRequired?: boolean;
}

/** Stores a channel with its credentials encrypted; returns it with them in clear for the caller. */
export async function createChannel(db: Pick<Db, 'insert'>, input: NewChannel): Promise<ChannelRow> {
  const id = uuidv7();
  const [row] = await db
    .insert(channels)
    .values({
      id,
      webhookSecret: randomBytes(24).toString('base64url'),
      ...input,
      credentials: keyring().encrypt(input.credentials, id),
    })
    .returning();
  if (!row) throw new Error('channel insert returned no row');
  return { ...row, credentials: input.credentials };
}

/** A channel with its credentials decrypted (they never leave the process otherwise). */
export async function getChannel(db: Db, id: string, accountId?: string): Promise<ChannelRow | undefined> {
  const where = accountId ? and(eq(channels.id, id), eq(channels.accountId, accountId)) : eq(channels.id, id);
  const [row] = await db.select().from(channels).where(where);
  return row ? { ...row, credentials: keyring().decrypt(row.credentials, row.id) } : undefined;
}

export type ChannelListing = Omit<ChannelRow, 'credentials'>;

/**
 * An account's channels in creation order (ids are UUIDv7), a page at a time: `after` is
 * the last id of the previous page. Credentials are not read (a listing never shows them).
 */
export async function listChannels(
  db: Db,
  q: { accountId: string; channelType?: ChannelType; after?: string; limit: number },
): Promise<{ items: ChannelListing[]; more: boolean }> {
  const conditions = [eq(channels.accountId, q.accountId)];
  if (q.channelType !== undefined) conditions.push(eq(channels.channelType, q.channelType));
  if (q.after !== undefined) conditions.push(gt(channels.id, q.after));
  const { credentials: _credentials, ...columns } = getTableColumns(channels);
  const rows = await db
    .select(columns)
    .from(channels)
    .where(and(...conditions))
    .orderBy(asc(channels.id))
    .limit(q.limit + 1);
  return { items: rows.slice(0, q.limit), more: rows.length > q.limit };
}

/**
 * getChannel behind a short cache, for hot paths that read the same few channels over and
 * over (webhook bursts, rate-limit slots). A change to a channel shows within `ttlMs`.
 */
export function cachedChannelLookup(db: Db, ttlMs = 5_000, maxEntries = 10_000): ChannelLookup {
  const cache = new Map<string, { row: ChannelRow | undefined; at: number }>();
  const read = async (id: string) => {
    const row = await getChannel(db, id);
    if (cache.size >= maxEntries) cache.clear();
    cache.set(id, { row, at: Date.now() });
    return row;
  };
  const lookup = async (id: string) => {
    const hit = cache.get(id);
    if (hit && Date.now() - hit.at < ttlMs) return hit.row;
    return read(id);
  };
  lookup.reread = async (id: string, minAgeMs: number) => {
    const hit = cache.get(id);
    if (hit && Date.now() - hit.at < minAgeMs) return undefined;
    return read(id);
  };
  return lookup;
}

export interface ChannelLookup {
  (id: string): Promise<ChannelRow | undefined>;
  /**
   * Reads the channel again when the cached copy is at least `minAgeMs` old (a changed secret
   * or credential shows at once); undefined when it is younger, so a flood of bad callbacks
   * costs at most one query per channel per `minAgeMs`.
   */
  reread(id: string, minAgeMs: number): Promise<ChannelRow | undefined>;
}

export interface ChannelChanges {
  name?: string;
  rateLimitPerSecond?: number | null;
  dailyLimit?: number | null;
  enabled?: boolean;
  /** The whole new credential set, stored encrypted. */
  credentials?: Record<string, string>;
}

/**
 * Applies a PATCH. With new credentials, `expectedCredentials` (the stored ciphertext they were
 * derived from) must still be what the row holds: undefined when it is not (a concurrent change)
 * or when the channel is not the account's.
 */
export async function updateChannel(
  db: Db,
  id: string,
  accountId: string,
  changes: ChannelChanges,
  expectedCredentials?: unknown,
): Promise<ChannelRow | undefined> {
  const { credentials, ...rest } = changes;
  const set: Partial<typeof channels.$inferInsert> = { ...rest };
  if (credentials) set.credentials = keyring().encrypt(credentials, id);
  const where = [eq(channels.id, id), eq(channels.accountId, accountId)];
  if (credentials) where.push(sql`${channels.credentials} = ${JSON.stringify(expectedCredentials ?? null)}::jsonb`);
  const [row] = Object.keys(set).length
    ? await db
        .update(channels)
        .set(set)
        .where(and(...where))
        .returning()
    : await db
        .select()
        .from(channels)
        .where(and(...where));
  return row ? { ...row, credentials: keyring().decrypt(row.credentials, row.id) } : undefined;
}

/** An account's channel decrypted, with its credentials as stored (what updateChannel compares them to). */
export async function getChannelForUpdate(db: Db, id: string, accountId: string): Promise<{ channel: ChannelRow; stored: unknown } | undefined> {
  const [row] = await db
    .select()
    .from(channels)
    .where(and(eq(channels.id, id), eq(channels.accountId, accountId)));
  return row ? { channel: { ...row, credentials: keyring().decrypt(row.credentials, row.id) }, stored: row.credentials } : undefined;
}

/**
 * A new webhook secret; the current one stays valid for `overlapSeconds` more (0: not at all).
 * A secret still in its overlap from an earlier rotation is dropped.
 */
export async function rotateWebhookSecret(db: Db, id: string, accountId: string, overlapSeconds: number): Promise<ChannelRow | undefined> {
  const [row] = await db
    .update(channels)
    .set({
      webhookSecret: randomBytes(24).toString('base64url'),
      webhookSecretPrevious: overlapSeconds > 0 ? sql`${channels.webhookSecret}` : null,
      webhookSecretPreviousUntil: overlapSeconds > 0 ? sql`now() + make_interval(secs => ${overlapSeconds})` : null,
    })
    .where(and(eq(channels.id, id), eq(channels.accountId, accountId)))
    .returning();
  return row ? { ...row, credentials: keyring().decrypt(row.credentials, row.id) } : undefined;
}

/** The webhook secrets a callback may carry now: the current one, then the previous one during its overlap. */
export function acceptedWebhookSecrets(
  channel: Pick<ChannelRow, 'webhookSecret' | 'webhookSecretPrevious' | 'webhookSecretPreviousUntil'>,
  now = Date.now(),
): string[] {
  const previous = channel.webhookSecretPrevious;
  const until = channel.webhookSecretPreviousUntil;
  return previous && until && until.getTime() > now ? [channel.webhookSecret, previous] : [channel.webhookSecret];
}

export async function updateChannelCredentials(db: Db, id: string, credentials: Record<string, string>): Promise<void> {
  await db
    .update(channels)
    .set({ credentials: keyring().encrypt(credentials, id) })
    .where(eq(channels.id, id));
}

/** Re-encrypts every channel not yet under the current key and bound to its id (format 2); returns how many. */
export async function rotateChannelCredentials(db: Db): Promise<number> {
  const ring = keyring();
  const rows = await db.select({ id: channels.id, credentials: channels.credentials }).from(channels);
  let n = 0;
  for (const r of rows) {
    if (!ring.needsRotation(r.credentials)) continue;
    await updateChannelCredentials(db, r.id, ring.decrypt(r.credentials, r.id));
    n++;
  }
  return n;
}
