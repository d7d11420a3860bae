import { sql } from 'drizzle-orm';
import type { MessageStatus } from '../lifecycle';
import type { Db } from './client';
import type { StatusChange } from './messages';

/** Keeps a receipt whose message is not known yet (the provider called back before our send recorded its id). */
export async function storePendingStatus(db: Db, channelId: string, update: StatusChange & { providerMessageId: string }): Promise<void> {
  await db.execute(sql`
    INSERT INTO pending_status_updates (channel_id, provider_message_id, status, occurred_at, provider_time, error_code, error_message)
    VALUES (${channelId}, ${update.providerMessageId}, ${update.status}, ${update.at.toISOString()}::timestamptz,
            ${update.providerTime?.toISOString() ?? null}::timestamptz, ${update.errorCode ?? null}, ${update.errorMessage ?? null})`);
}

/** Removes and returns the receipts kept for a provider message id. */
export async function takePendingStatuses(db: Db, channelId: string, providerMessageId: string): Promise<StatusChange[]> {
  const r = await db.execute<{
    status: MessageStatus;
    occurred_at: Date | string;
    provider_time: Date | string | null;
    error_code: string | null;
    error_message: string | null;
  }>(sql`
    DELETE FROM pending_status_updates WHERE channel_id = ${channelId} AND provider_message_id = ${providerMessageId}
    RETURNING status, occurred_at, provider_time, error_code, error_message`);
  return r.rows.map((p) => ({
    status: p.status,
    at: new Date(p.occurred_at),
    providerTime: p.provider_time === null ? null : new Date(p.provider_time),
    errorCode: p.error_code ?? undefined,
    errorMessage: p.error_message ?? undefined,
  }));
}
