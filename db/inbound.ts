import { sql } from 'drizzle-orm';
import type { ChannelType } from '../lifecycle';
import type { Db } from './client';
import { uuidv7, uuidv7Time } from './uuidv7';

export interface NewInbound {
  accountId: string;
  channelId: string;
  channelType: ChannelType;
  providerMessageId: string;
  from: string;
  to: string;
  body: string;
  receivedAt: Date;
  traceId: string;
}

/**
 * Stores an inbound message once per (channel, provider message id) and moves the
 * contact's conversation window forward. Returns the message id, or undefined for a duplicate.
 */
export async function storeInbound(db: Db, m: NewInbound): Promise<string | undefined> {
  const id = uuidv7();
  const r = await db.execute<{ message_id: string }>(sql`
    WITH claim AS (
      INSERT INTO inbound_dedup (channel_id, provider_message_id, message_id)
      VALUES (${m.channelId}, ${m.providerMessageId}, ${id})
      ON CONFLICT DO NOTHING
      RETURNING message_id
    ), msg AS (
      INSERT INTO messages (id, created_at, account_id, channel_id, channel_type, direction, to_address, from_address, body,
                            status, metadata_, delivered_at)
      SELECT message_id, ${uuidv7Time(id).toISOString()}::timestamptz, ${m.accountId}, ${m.channelId}, ${m.channelType}, 'inbound',
             ${m.to}, ${m.from}, ${m.body}, 'delivered',
             jsonb_build_object('provider_message_id', ${m.providerMessageId}::text, 'trace_id', ${m.traceId}::text),
             ${m.receivedAt.toISOString()}::timestamptz
      FROM claim
    ), win AS (
      INSERT INTO contact_windows (channel_id, contact, last_inbound_at)
      SELECT ${m.channelId}, ${m.from}, ${m.receivedAt.toISOString()}::timestamptz FROM claim
      ON CONFLICT (channel_id, contact) DO UPDATE SET last_inbound_at = GREATEST(contact_windows.last_inbound_at, EXCLUDED.last_inbound_at)
    )
    SELECT message_id FROM claim`);
  return r.rows[0]?.message_id;
}

export async function lastInboundAt(db: Db, channelId: string, contact: string): Promise<Date | undefined> {
  const r = await db.execute<{ last_inbound_at: Date | string }>(
    sql`SELECT last_inbound_at FROM contact_windows WHERE channel_id = ${channelId} AND contact = ${contact}`,
  );
  const v = r.rows[0]?.last_inbound_at;
  return v === undefined ? undefined : new Date(v);
}
