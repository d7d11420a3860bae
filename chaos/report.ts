import type { Pool } from 'pg';
import type { TwilioSimulator } from '../sandbox/twilio/server';

// What the run left behind, read from Postgres and the simulator: states, lost
// messages, status regressions, and each double send next to the fault that explains it.

export const TERMINAL = ['delivered', 'undelivered', 'failed'] as const;

export interface FaultEvent {
  kind: 'worker-kill' | 'worker-start' | 'temporal-restart' | 'postgres-restart' | 'faults-on' | 'faults-off' | 'rate-limit-burst';
  at: number;
  /** For restarts: when the component answered again. */
  until?: number;
  note?: string;
}

export async function statusCounts(pool: Pool, accountId: string): Promise<Record<string, number>> {
  const r = await pool.query<{ status: string; n: string }>(
    `SELECT status, count(*)::text AS n FROM messages WHERE account_id = $1 AND direction = 'outbound' GROUP BY status ORDER BY status`,
    [accountId],
  );
  return Object.fromEntries(r.rows.map((x) => [x.status, Number(x.n)]));
}

/** Error codes of the messages that did not end delivered. */
export async function failureCodes(pool: Pool, accountId: string): Promise<Record<string, number>> {
  const r = await pool.query<{ k: string; n: string }>(
    `SELECT status || ':' || coalesce(error_code, '-') AS k, count(*)::text AS n FROM messages
      WHERE account_id = $1 AND status <> 'delivered' GROUP BY 1 ORDER BY 2 DESC`,
    [accountId],
  );
  return Object.fromEntries(r.rows.map((x) => [x.k, Number(x.n)]));
}

/** Single messages stored for the account (a group's are reported apart); one accepted with 202 and missing here is lost. */
export async function storedIds(pool: Pool, accountId: string): Promise<Set<string>> {
  const r = await pool.query<{ id: string }>(`SELECT id FROM messages WHERE account_id = $1 AND group_message_id IS NULL`, [accountId]);
  return new Set(r.rows.map((x) => x.id));
}

/** Transitions recorded out of order within one run: each must rank above the one before. */
export async function regressions(pool: Pool, accountId: string): Promise<{ count: number; samples: string[] }> {
  const r = await pool.query<{ message_id: string; prev: string; status: string }>(
    `SELECT message_id, prev, status FROM (
       SELECT e.message_id, e.status, lag(e.status) OVER w AS prev,
              message_status_rank(e.status) AS rank, lag(message_status_rank(e.status)) OVER w AS prev_rank
         FROM message_events e JOIN messages m ON m.id = e.message_id
        WHERE m.account_id = $1 AND e.kind = 'status'
       WINDOW w AS (PARTITION BY e.message_id, e.run ORDER BY e.id)) t
      WHERE prev_rank IS NOT NULL AND rank <= prev_rank`,
    [accountId],
  );
  // The row's status must also be the highest transition it recorded.
  const mismatch = await pool.query<{ id: string; status: string; top: string }>(
    `SELECT m.id, m.status, max(message_status_rank(e.status))::text AS top FROM messages m
       JOIN message_events e ON e.message_id = m.id AND e.run = m.replays AND e.kind = 'status'
      WHERE m.account_id = $1 GROUP BY m.id, m.status HAVING message_status_rank(m.status) <> max(message_status_rank(e.status))`,
    [accountId],
  );
  return {
    count: (r.rowCount ?? 0) + (mismatch.rowCount ?? 0),
    samples: [
      ...r.rows.slice(0, 5).map((x) => `${x.message_id}: ${x.prev} → ${x.status}`),
      ...mismatch.rows.slice(0, 5).map((x) => `${x.id}: row says ${x.status}, events reach rank ${x.top}`),
    ],
  };
}

export interface DoubleSend {
  messageId: string;
  accepted: number;
  attempts: string;
  reason: string;
}

/**
 * Messages the simulator accepted more than once (counted per StatusCallback URL, i.e.
 * per message of ours), each with the fault that lies between its first and last
 * attempt. Only an acknowledgement lost with a killed worker or a restarting server
 * explains a second send; anything else is reported as unexplained.
 */
export function doubleSends(sim: TwilioSimulator, faults: FaultEvent[], t0: number): DoubleSend[] {
  const byCallback = new Map<string, number[]>();
  for (const r of sim.requests) {
    const url = r.form.StatusCallback;
    if (url) byCallback.set(url, [...(byCallback.get(url) ?? []), r.at]);
  }
  const out: DoubleSend[] = [];
  for (const [url, times] of byCallback) {
    const accepted = sim.sendCount(url);
    if (accepted <= 1) continue;
    const first = Math.min(...times);
    const last = Math.max(...times);
    const cause = faults.find((f) => ['worker-kill', 'temporal-restart', 'postgres-restart'].includes(f.kind) && f.at >= first - 1_000 && f.at <= last);
    out.push({
      messageId: new URL(url).searchParams.get('message_id') ?? url,
      accepted,
      attempts: times.map((t) => `+${((t - t0) / 1000).toFixed(1)}s`).join(', '),
      reason: cause
        ? `${cause.kind} at +${((cause.at - t0) / 1000).toFixed(1)}s between the sends: the provider's answer was not recorded before the ${cause.kind === 'worker-kill' ? 'worker died' : 'restart'}, so the send activity ran again`
        : 'UNEXPLAINED: no kill or restart between the sends',
    });
  }
  return out;
}

export function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN);
}
