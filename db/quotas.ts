import { sql } from 'drizzle-orm';
import type { Db } from './client';

type Executor = Pick<Db, 'insert' | 'execute'>;

// Per-account quotas. Each is the account's own column when set, else the deployment's
// default (QUOTA_* settings); 0 means unlimited.

export type QuotaName = 'messages_per_day' | 'recipients_per_group' | 'channels_per_account';

export interface QuotaDefaults {
  messagesPerDay: number;
  recipientsPerGroup: number;
  channelsPerAccount: number;
}

/** A request that would take the account past one of its quotas. */
export class QuotaExceededError extends Error {
  constructor(
    readonly limit: QuotaName,
    readonly max: number,
    readonly requested: number,
    /** What the account already uses of it, where that is counted (messages today, channels). */
    readonly used?: number,
  ) {
    super(used === undefined ? `${limit} quota is ${max} (${requested} requested)` : `${limit} quota of ${max} reached (${used} used, ${requested} requested)`);
    this.name = 'QuotaExceededError';
  }
}

/** The UTC day `now` falls in (YYYY-MM-DD): the daily quota's bucket. */
export function utcDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** Seconds from `now` to the next UTC midnight, when the daily quota starts again. */
export function secondsToNextUtcDay(now: Date): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - now.getTime()) / 1000));
}

/**
 * Counts `n` messages against the account's daily quota, or none of them. One statement:
 * the UPSERT's WHERE is re-checked on the locked row, so concurrent calls serialise and the
 * counter never passes the quota. Throws QuotaExceededError when `n` does not fit.
 */
export async function consumeDailyMessages(db: Db, accountId: string, n: number, defaults: QuotaDefaults, now = new Date()): Promise<void> {
  const day = utcDay(now);
  const r = await db.execute<{ max: string; used: string | null; ok: boolean }>(sql`
    WITH q AS (
      SELECT coalesce(quota_messages_per_day, ${defaults.messagesPerDay})::bigint AS max FROM accounts WHERE id = ${accountId}
    ), raised AS (
      INSERT INTO account_daily_usage AS u (account_id, day, messages)
      SELECT ${accountId}, ${day}::date, ${n} FROM q WHERE q.max = 0 OR ${n} <= q.max
      ON CONFLICT (account_id, day) DO UPDATE SET messages = u.messages + EXCLUDED.messages
      WHERE (SELECT max FROM q) = 0 OR u.messages + EXCLUDED.messages <= (SELECT max FROM q)
      RETURNING u.messages
    )
    SELECT q.max::text AS max, (SELECT messages FROM raised)::text AS used, EXISTS (SELECT 1 FROM raised) AS ok FROM q`);
  const row = r.rows[0];
  if (!row || row.ok) return;
  const used = await db.execute<{ messages: string }>(sql`
    SELECT messages::text FROM account_daily_usage WHERE account_id = ${accountId} AND day = ${day}::date`);
  throw new QuotaExceededError('messages_per_day', Number(row.max), n, Number(used.rows[0]?.messages ?? 0));
}

/** Gives back what consumeDailyMessages took when the work it was taken for did not happen. */
export async function refundDailyMessages(db: Db, accountId: string, n: number, now = new Date()): Promise<void> {
  await db.execute(sql`
    UPDATE account_daily_usage SET messages = greatest(messages - ${n}, 0)
    WHERE account_id = ${accountId} AND day = ${utcDay(now)}::date`);
}

/** The account's largest group (recipients), 0 when unlimited. */
export async function recipientsPerGroupQuota(db: Db, accountId: string, defaults: QuotaDefaults): Promise<number> {
  const r = await db.execute<{ max: number }>(sql`
    SELECT coalesce(quota_recipients_per_group, ${defaults.recipientsPerGroup})::int AS max FROM accounts WHERE id = ${accountId}`);
  return Number(r.rows[0]?.max ?? defaults.recipientsPerGroup);
}

/** Throws QuotaExceededError when a group of `total` recipients is larger than the account allows. */
export async function checkGroupSize(db: Db, accountId: string, total: number, defaults: QuotaDefaults): Promise<void> {
  const max = await recipientsPerGroupQuota(db, accountId, defaults);
  if (max > 0 && total > max) throw new QuotaExceededError('recipients_per_group', max, total);
}

/**
 * Runs `create` (which must insert one channel of the account through `tx`) only while the
 * account has fewer channels than its quota. The account row is locked first, so concurrent
 * creations count one after another.
 */
export async function withinChannelQuota<T>(db: Db, accountId: string, defaults: QuotaDefaults, create: (tx: Executor) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    const q = await tx.execute<{ max: number }>(sql`
      SELECT coalesce(quota_channels, ${defaults.channelsPerAccount})::int AS max FROM accounts WHERE id = ${accountId} FOR UPDATE`);
    const max = Number(q.rows[0]?.max ?? defaults.channelsPerAccount);
    if (max > 0) {
      const c = await tx.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM channels WHERE account_id = ${accountId}`);
      const used = Number(c.rows[0]?.n ?? 0);
      if (used >= max) throw new QuotaExceededError('channels_per_account', max, 1, used);
    }
    return create(tx);
  });
}

/** An account's own quota columns; null: the deployment default applies. */
export interface AccountQuotaOverrides {
  messagesPerDay?: number | null;
  recipientsPerGroup?: number | null;
  channels?: number | null;
}

/** Sets (a number) or clears (null) an account's own quotas; false when there is no such account. */
export async function setAccountQuotas(db: Db, accountId: string, o: AccountQuotaOverrides): Promise<boolean> {
  const r = await db.execute(sql`
    UPDATE accounts SET
      quota_messages_per_day = CASE WHEN ${o.messagesPerDay === undefined} THEN quota_messages_per_day ELSE ${o.messagesPerDay ?? null}::int END,
      quota_recipients_per_group = CASE WHEN ${o.recipientsPerGroup === undefined} THEN quota_recipients_per_group ELSE ${o.recipientsPerGroup ?? null}::int END,
      quota_channels = CASE WHEN ${o.channels === undefined} THEN quota_channels ELSE ${o.channels ?? null}::int END
    WHERE id = ${accountId}`);
  return (r.rowCount ?? 0) === 1;
}

export interface QuotaReport {
  limit: QuotaName;
  /** The account's own value, null when the default applies. */
  own: number | null;
  /** What is enforced (0: unlimited). */
  effective: number;
  used?: number;
}

/** The account's quotas as enforced, with today's message count and its channels. */
export async function accountQuotaReport(db: Db, accountId: string, defaults: QuotaDefaults, now = new Date()): Promise<QuotaReport[] | undefined> {
  const r = await db.execute<{ m: number | null; g: number | null; c: number | null; today: string | null; channels: number }>(sql`
    SELECT a.quota_messages_per_day AS m, a.quota_recipients_per_group AS g, a.quota_channels AS c,
      (SELECT messages::text FROM account_daily_usage WHERE account_id = a.id AND day = ${utcDay(now)}::date) AS today,
      (SELECT count(*)::int FROM channels WHERE account_id = a.id) AS channels
    FROM accounts a WHERE a.id = ${accountId}`);
  const row = r.rows[0];
  if (!row) return undefined;
  return [
    { limit: 'messages_per_day', own: row.m, effective: row.m ?? defaults.messagesPerDay, used: Number(row.today ?? 0) },
    { limit: 'recipients_per_group', own: row.g, effective: row.g ?? defaults.recipientsPerGroup },
    { limit: 'channels_per_account', own: row.c, effective: row.c ?? defaults.channelsPerAccount, used: Number(row.channels) },
  ];
}
