import { sql } from 'drizzle-orm';
import type { MessageStatus } from '../lifecycle';
import type { Db } from './client';

/** A final receipt already written to its row whose signal to the workflow has not gone through yet. */
export interface PendingSignal {
  messageId: string;
  status: MessageStatus;
  occurredAt: Date;
  errorCode?: string;
  errorMessage?: string;
  attempts: number;
}

/** Keeps the signal for the sweeper; a later receipt for the same message replaces it only if it ranks higher. */
export async function storePendingSignal(db: Db, s: Omit<PendingSignal, 'attempts'>): Promise<void> {
  await db.execute(sql`
    INSERT INTO pending_signals (message_id, status, occurred_at, error_code, error_message)
    VALUES (${s.messageId}, ${s.status}, ${s.occurredAt.toISOString()}::timestamptz, ${s.errorCode ?? null}, ${s.errorMessage ?? null})
    ON CONFLICT (message_id) DO UPDATE SET status = EXCLUDED.status, occurred_at = EXCLUDED.occurred_at,
      error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message, next_attempt_at = now()
    WHERE message_status_rank(pending_signals.status) < message_status_rank(EXCLUDED.status)`);
}

/** Signals due for another try, oldest first. */
export async function duePendingSignals(db: Db, limit: number): Promise<PendingSignal[]> {
  const r = await db.execute<{
    message_id: string;
    status: MessageStatus;
    occurred_at: Date | string;
    error_code: string | null;
    error_message: string | null;
    attempts: number;
  }>(sql`
    SELECT message_id::text, status, occurred_at, error_code, error_message, attempts FROM pending_signals
    WHERE next_attempt_at <= now() ORDER BY next_attempt_at LIMIT ${limit}`);
  return r.rows.map((p) => ({
    messageId: p.message_id,
    status: p.status,
    occurredAt: new Date(p.occurred_at),
    errorCode: p.error_code ?? undefined,
    errorMessage: p.error_message ?? undefined,
    attempts: p.attempts,
  }));
}

export async function deletePendingSignal(db: Db, messageId: string): Promise<void> {
  await db.execute(sql`DELETE FROM pending_signals WHERE message_id = ${messageId}`);
}

/** Backs the next try off (at most 5 minutes): the workflow also reads the row at its deadline. */
export async function postponePendingSignal(db: Db, messageId: string, attempts: number): Promise<void> {
  const delaySeconds = Math.min(300, 2 ** Math.min(attempts, 8));
  await db.execute(sql`
    UPDATE pending_signals SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => ${delaySeconds})
    WHERE message_id = ${messageId}`);
}

export async function pendingSignalCount(db: Db): Promise<number> {
  const r = await db.execute<{ n: string }>(sql`SELECT count(*)::text AS n FROM pending_signals`);
  return Number(r.rows[0]?.n ?? 0);
}
