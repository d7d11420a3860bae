import type { Pool } from 'pg';
import { percentile } from '../machine';

/** A closed loop: `concurrency` callers, each starting the next item as soon as its previous one returns. */
export async function closedLoop(count: number, concurrency: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const caller = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) await one(i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, caller));
}

export interface Spread {
  p50: number;
  p99: number;
}

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)) };
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Polls until every message of the channel is delivered (or read); throws with the count when it times out. */
export async function waitDelivered(pool: Pool, channelId: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM messages WHERE channel_id = $1 AND status IN ('delivered', 'read')`, [
      channelId,
    ]);
    const n = Number(r.rows[0]?.n ?? 0);
    if (n >= count) return;
    if (Date.now() > deadline) {
      const by = await pool.query<{ status: string; error_code: string | null; n: string }>(
        `SELECT status, error_code, count(*)::text AS n FROM messages WHERE channel_id = $1 GROUP BY 1, 2`,
        [channelId],
      );
      const seen = by.rows.map((r) => `${r.status}${r.error_code ? `(${r.error_code})` : ''}: ${r.n}`).join(', ');
      throw new Error(`only ${n} of ${count} messages delivered within ${timeoutMs} ms (${seen})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface LegResult {
  name: string;
  messages: number;
  concurrency: number;
  /** Delivered messages per second, first accept to last delivered. */
  perSecond: number;
  wallSeconds: number;
  acceptMs?: Spread;
  /** Per stage, from the row's created_at and the recorded_at of its status events (database clock). */
  toSentMs?: Spread;
  toDeliveredMs?: Spread;
}

/** A leg's row: throughput from its first accept to its last delivery, and per-stage spreads from Postgres. */
export async function legResult(
  pool: Pool,
  leg: { name: string; channelId: string; count: number; concurrency: number; startedAt: number; acceptMs: number[] },
): Promise<LegResult> {
  const stages = await stageTimes(pool, leg.channelId, leg.startedAt);
  const wallSeconds = (stages.lastDone - leg.startedAt) / 1000;
  return {
    name: leg.name,
    messages: leg.count,
    concurrency: leg.concurrency,
    perSecond: leg.count / wallSeconds,
    wallSeconds,
    acceptMs: spread(leg.acceptMs),
    toSentMs: spread(stages.toSent),
    toDeliveredMs: spread(stages.toDelivered),
  };
}

/**
 * Per-stage timing from Postgres: created_at comes from the UUIDv7 minted at accept,
 * recorded_at is when each transition was written, so no client polling skews it.
 */
export async function stageTimes(pool: Pool, channelId: string, startedAt: number): Promise<{ toSent: number[]; toDelivered: number[]; lastDone: number }> {
  const r = await pool.query<{ created: string; sent: string | null; done: string | null }>(
    `SELECT extract(epoch FROM m.created_at) * 1000 AS created,
            (SELECT min(extract(epoch FROM e.recorded_at)) * 1000 FROM message_events e WHERE e.message_id = m.id AND e.status = 'sent') AS sent,
            (SELECT min(extract(epoch FROM e.recorded_at)) * 1000 FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) AS done
       FROM messages m WHERE m.channel_id = $1`,
    [channelId],
  );
  const toSent: number[] = [];
  const toDelivered: number[] = [];
  let lastDone = startedAt;
  for (const row of r.rows) {
    const created = Number(row.created);
    if (row.sent !== null) toSent.push(Number(row.sent) - created);
    if (row.done !== null) {
      toDelivered.push(Number(row.done) - created);
      lastDone = Math.max(lastDone, Number(row.done));
    }
  }
  return { toSent, toDelivered, lastDone };
}
