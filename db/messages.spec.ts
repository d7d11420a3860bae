import { describe, expect, it } from 'vitest';
import { useSpecChannel, useSpecDatabase } from '../tests/support/spec-database';
import { advanceStatus, applyReceipt, getMessage, insertMessage, listMessageEvents, recordSent } from './messages';
import { storePendingStatus, takePendingStatuses } from './pending-receipts';

describe('messages on the partitioned messages table (real PostgreSQL)', () => {
  const database = useSpecDatabase(2);
  const owner = useSpecChannel(database, 'messages-spec');

  it('moves status forward only', async () => {
    const m = await insertMessage(database.db, { ...owner, channelType: 'sms', to: '+15551230000', body: 'x', metadata: { trace_id: 't' } });
    expect(await advanceStatus(database.db, m.id, { status: 'sent', at: new Date(), providerMessageId: 'SM1' })).toBe(true);
    expect(await advanceStatus(database.db, m.id, { status: 'delivered', at: new Date() })).toBe(true);
    expect(await advanceStatus(database.db, m.id, { status: 'sent', at: new Date() })).toBe(false);
    expect(await advanceStatus(database.db, m.id, { status: 'delivered', at: new Date() })).toBe(false);
    const row = await getMessage(database.db, m.id, owner.accountId);
    expect(row?.status).toBe('delivered');
    expect(row?.metadata).toMatchObject({ trace_id: 't', provider_message_id: 'SM1' });
    expect(await getMessage(database.db, m.id, '01a22000-0000-7000-8000-000000000000')).toBeUndefined();
  });

  describe('status times never run backwards; the provider time is kept as given', () => {
    // A few minutes ahead, so the rows fall in a month the migration made a partition for.
    const T = Date.now() + 300_000;
    const at = (ms: number) => new Date(T + ms);
    /** A carrier's done date, to the minute: a minute or more before the send. */
    const COARSE = new Date(Math.floor((T - 60_000) / 60_000) * 60_000);
    const sentMessage = async (to: string, sid: string) => {
      const m = await insertMessage(database.db, { ...owner, channelType: 'sms', to, body: 'x', metadata: {} }, T - 1_000);
      expect(await advanceStatus(database.db, m.id, { status: 'sending', at: at(-500) })).toBe(true);
      expect(await recordSent(database.db, m.id, at(0), sid)).toEqual({ status: 'sent', applied: true });
      return m.id;
    };
    const timesOf = async (id: string) => {
      const row = await getMessage(database.db, id);
      return {
        sending: row?.sendingAt?.toISOString(),
        sent: row?.sentAt?.toISOString(),
        delivered: row?.deliveredAt?.toISOString(),
        read: row?.readAt?.toISOString(),
      };
    };
    const eventsOf = async (id: string) =>
      (await listMessageEvents(database.db, id)).map((e) => [e.status, e.occurredAt.toISOString(), e.providerTime?.toISOString() ?? null]);

    it('a coarse provider time before the send: delivered at the send, the event keeps the provider time', async () => {
      const id = await sentMessage('+15551230001', 'SMcoarse1');
      const hit = await applyReceipt(database.db, owner.channelId, { messageId: id }, { status: 'delivered', at: at(400), providerTime: COARSE });
      expect(hit).toMatchObject({ seen: 'sent', previous: 'sent' });
      expect(await timesOf(id)).toEqual({ sending: at(-500).toISOString(), sent: at(0).toISOString(), delivered: at(0).toISOString(), read: undefined });
      expect(await eventsOf(id)).toEqual([
        ['queued', at(-1_000).toISOString(), null],
        ['sending', at(-500).toISOString(), null],
        ['sent', at(0).toISOString(), null],
        ['delivered', at(0).toISOString(), COARSE.toISOString()],
      ]);
      // A duplicate with another time changes nothing; a later read by provider id is kept as given.
      expect(await applyReceipt(database.db, owner.channelId, { messageId: id }, { status: 'delivered', at: at(900), providerTime: at(60_000) })).toMatchObject(
        {
          previous: undefined,
        },
      );
      expect(
        await applyReceipt(database.db, owner.channelId, { providerMessageId: 'SMcoarse1' }, { status: 'read', at: at(90_000), providerTime: at(80_000) }),
      ).toMatchObject({ previous: 'delivered' });
      expect(await timesOf(id)).toMatchObject({ delivered: at(0).toISOString(), read: at(80_000).toISOString() });
      expect((await eventsOf(id)).slice(3)).toEqual([
        ['delivered', at(0).toISOString(), COARSE.toISOString()],
        ['read', at(80_000).toISOString(), at(80_000).toISOString()],
      ]);
    });

    it('without a provider time: timed on arrival, never before the status it moves from', async () => {
      const id = await sentMessage('+15551230002', 'SMcoarse2');
      expect(await advanceStatus(database.db, id, { status: 'delivered', at: at(700) })).toBe(true);
      expect(await advanceStatus(database.db, id, { status: 'read', at: at(300), source: 'webhook' })).toBe(true);
      expect(await timesOf(id)).toMatchObject({ delivered: at(700).toISOString(), read: at(700).toISOString() });
      expect((await eventsOf(id)).slice(3)).toEqual([
        ['delivered', at(700).toISOString(), null],
        ['read', at(700).toISOString(), null],
      ]);
    });

    it('a receipt that raced the send: sent_at is no later than the delivery it came before', async () => {
      const m = await insertMessage(database.db, { ...owner, channelType: 'sms', to: '+15551230003', body: 'x', metadata: {} }, T - 1_000);
      expect(await advanceStatus(database.db, m.id, { status: 'sending', at: at(-500) })).toBe(true);
      // By our id, while the provider call is still out: delivered at the row's latest time.
      await applyReceipt(database.db, owner.channelId, { messageId: m.id }, { status: 'delivered', at: at(200), providerTime: COARSE });
      expect(await recordSent(database.db, m.id, at(600), 'SMraced')).toEqual({ status: 'delivered', applied: false });
      expect(await timesOf(m.id)).toEqual({
        sending: at(-500).toISOString(),
        sent: at(-500).toISOString(),
        delivered: at(-500).toISOString(),
        read: undefined,
      });
      expect((await eventsOf(m.id)).map((e) => e[0])).toEqual(['queued', 'sending', 'delivered']);
    });

    it('a receipt kept before the send recorded its id keeps its provider time, and is applied after the send', async () => {
      const m = await insertMessage(database.db, { ...owner, channelType: 'sms', to: '+15551230004', body: 'x', metadata: {} }, T - 1_000);
      expect(await advanceStatus(database.db, m.id, { status: 'sending', at: at(-500) })).toBe(true);
      await storePendingStatus(database.db, owner.channelId, { providerMessageId: 'SMearly', status: 'delivered', at: at(-100), providerTime: COARSE });
      await storePendingStatus(database.db, owner.channelId, { providerMessageId: 'SMearly', status: 'sent', at: at(-200) });
      expect(await recordSent(database.db, m.id, at(0), 'SMearly')).toEqual({ status: 'sent', applied: true });
      const early = await takePendingStatuses(database.db, owner.channelId, 'SMearly');
      expect(early.map((p) => [p.status, p.at.toISOString(), p.providerTime?.toISOString() ?? null]).sort()).toEqual([
        ['delivered', at(-100).toISOString(), COARSE.toISOString()],
        ['sent', at(-200).toISOString(), null],
      ]);
      for (const p of early) await advanceStatus(database.db, m.id, { ...p, source: 'webhook' });
      expect(await timesOf(m.id)).toMatchObject({ sent: at(0).toISOString(), delivered: at(0).toISOString() });
      expect((await eventsOf(m.id)).at(-1)).toEqual(['delivered', at(0).toISOString(), COARSE.toISOString()]);
    });
  });

  describe('whether a workflow waits for the final receipt', () => {
    const message = async (to: string) => {
      const m = await insertMessage(database.db, { ...owner, channelType: 'sms', to, body: 'x', metadata: {} });
      expect(await advanceStatus(database.db, m.id, { status: 'sending', at: new Date() })).toBe(true);
      return m.id;
    };
    const receipt = (id: string, status: 'sent' | 'delivered') => applyReceipt(database.db, owner.channelId, { messageId: id }, { status, at: new Date() });

    it('not while the send is in flight (the send returns the row); once the send is recorded, yes', async () => {
      const racing = await message('+15551230010');
      expect(await receipt(racing, 'sent')).toMatchObject({ previous: 'sending', awaitsReceipt: false });
      expect(await receipt(racing, 'delivered')).toMatchObject({ previous: 'sent', awaitsReceipt: false });
      expect(await recordSent(database.db, racing, new Date(), 'SMracing')).toEqual({ status: 'delivered', applied: false });

      const recorded = await message('+15551230011');
      expect(await recordSent(database.db, recorded, new Date(), 'SMrecorded')).toEqual({ status: 'sent', applied: true });
      expect(await receipt(recorded, 'delivered')).toMatchObject({ previous: 'sent', awaitsReceipt: true });
    });

    it('a receipt waiting on the row lock while the send is recorded sees the record', async () => {
      const id = await message('+15551230012');
      const sending = await database.pool.connect();
      try {
        await sending.query('BEGIN');
        // The send's write, not yet committed: it holds the row.
        await sending.query(
          `UPDATE messages SET status = 'sent', metadata_ = metadata_ || '{"provider_message_id":"SMlocked","send_recorded":true}' WHERE id = $1`,
          [id],
        );
        const waiting = receipt(id, 'delivered');
        await new Promise((r) => setTimeout(r, 200));
        await sending.query('COMMIT');
        expect(await waiting).toMatchObject({ seen: 'sending', previous: 'sent', awaitsReceipt: true });
      } finally {
        sending.release();
      }
    });

    it('never for a row without a workflow (a batched group recipient)', async () => {
      const id = await message('+15551230013');
      await database.pool.query('UPDATE messages SET workflow_id = NULL WHERE id = $1', [id]);
      expect(await recordSent(database.db, id, new Date(), 'SMbatched')).toEqual({ status: 'sent', applied: true });
      expect(await receipt(id, 'delivered')).toMatchObject({ previous: 'sent', awaitsReceipt: false });
    });
  });
});
