import { sql } from 'drizzle-orm';
import type { Db } from './client';

export interface SlotRequest {
  channelId: string;
  /** 'reserve' paces workflows; 'send' gates the provider call. Separate buckets at the same rate. */
  scope?: 'reserve' | 'send';
  perSecond: number;
  dailyLimit?: number | null;
  /** How far ahead a slot may be reserved; beyond it the caller is told to come back later. */
  horizonMs?: number;
  /** Consecutive slots reserved at once (a group's batch); waitMs is until the first of them. Default 1. */
  count?: number;
}

export interface Slot {
  /** 0 when the send may go now; else how long to wait (for the reserved slot, or to retry). */
  waitMs: number;
  /** True when a slot is held at now + waitMs; false when refused (daily limit, or beyond the horizon). */
  reserved: boolean;
  reason?: 'daily_limit' | 'horizon';
}

const DEFAULT_HORIZON_MS = 60_000;

/**
 * Reserves the next send slot of a channel in one statement: each caller gets its
 * own future slot (spaced 1/perSecond apart), so a burst turns into a queue, not a
 * retry storm. Shared by every worker through PostgreSQL.
 */
export async function reserveSlot(db: Db, req: SlotRequest, now = new Date()): Promise<Slot> {
  const intervalMs = 1000 / req.perSecond;
  const count = Math.max(1, Math.floor(req.count ?? 1));
  const spanMs = intervalMs * count;
  const horizonMs = req.horizonMs ?? DEFAULT_HORIZON_MS;
  const today = now.toISOString().slice(0, 10);
  const nowIso = now.toISOString();
  const daily = req.dailyLimit ?? null;
  const scope = req.scope ?? 'reserve';
  const r = await db.execute<{ wait_ms: string }>(sql`
    INSERT INTO rate_limiter_state AS s (channel_id, scope, tat, day, day_count)
    VALUES (${req.channelId}, ${scope}, ${nowIso}::timestamptz + make_interval(secs => ${spanMs / 1000}), ${today}::date, ${count}::integer)
    ON CONFLICT (channel_id, scope) DO UPDATE SET
      tat = GREATEST(s.tat, ${nowIso}::timestamptz) + make_interval(secs => ${spanMs / 1000}),
      day = ${today}::date,
      day_count = CASE WHEN s.day = ${today}::date THEN s.day_count + ${count}::integer ELSE ${count}::integer END
    WHERE GREATEST(s.tat, ${nowIso}::timestamptz) <= ${nowIso}::timestamptz + make_interval(secs => ${horizonMs / 1000})
      AND (${daily}::integer IS NULL OR s.day <> ${today}::date OR s.day_count + ${count}::integer <= ${daily}::integer)
    RETURNING (extract(epoch FROM (tat - ${nowIso}::timestamptz)) * 1000 - ${spanMs})::text AS wait_ms`);
  const row = r.rows[0];
  if (row) return { waitMs: Math.max(0, Math.ceil(Number(row.wait_ms))), reserved: true };

  const state = await db.execute<{ tat: Date | string; day: string; day_count: number }>(
    sql`SELECT tat, to_char(day, 'YYYY-MM-DD') AS day, day_count FROM rate_limiter_state WHERE channel_id = ${req.channelId} AND scope = ${scope}`,
  );
  const s = state.rows[0];
  if (s && daily !== null && s.day === today && s.day_count + count > daily) {
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    return { waitMs: midnight - now.getTime(), reserved: false, reason: 'daily_limit' };
  }
  const tat = s ? new Date(s.tat).getTime() : now.getTime();
  return { waitMs: Math.max(1, Math.ceil(tat - now.getTime() - horizonMs)), reserved: false, reason: 'horizon' };
}
