import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callbackToken } from '../../adapters/callback-token';
import { startJasminSimulator, type JasminSimulator } from '../../sandbox/jasmin/server';
import { receiptDate } from '../../sandbox/jasmin/wire';
import { dlrDoneDate, twilioSignature } from '../../sandbox/twilio/wire';
import { startStack, type MessageView, type TestStack } from '../support/stack';

// Carriers date a receipt to the minute (Twilio's RawDlrDoneDate, an SMSC's donedate), so the
// provider's time of a delivery is often before our own time of the send. The event keeps the
// provider's time as given; the row's times and the events' occurred_at never run backwards.

const NO_CALLBACKS = '+15005550605';
const CALLBACKS_BEFORE_SEND_RETURNS = '+15005550604';
const NO_RECEIPTS = '+447700900004';
const JASMIN_USER = { username: 'turumba', password: 'e2e-jasmin-pw' };

interface EventView {
  status: string;
  occurred_at: string;
  provider_time: string | null;
  source: string;
}

/** The minute `at` falls in, as a carrier writes it (YYMMDDhhmm, no seconds), and that minute as a time. */
const minuteOf = (at: number): { at: Date; donedate: string } => {
  const minute = new Date(Math.floor(at / 60_000) * 60_000);
  return { at: minute, donedate: dlrDoneDate(minute) };
};

describe('timestamps with a coarse provider time (Temporal + Postgres + Twilio and Jasmin simulators)', () => {
  let stack: TestStack;
  let jasmin: JasminSimulator;
  let smsChannel: string;
  let smpp: { id: string; webhook_url: string; webhook_secret: string };

  beforeAll(async () => {
    stack = await startStack();
    smsChannel = await stack.createSmsChannel();
    jasmin = await startJasminSimulator({ users: [JASMIN_USER], dlrDelayMs: 30 });
    smpp = await stack.createSmppChannel(jasmin.url, JASMIN_USER);
  });
  afterAll(async () => {
    await jasmin?.close();
    await stack?.close();
  });

  const send = async (channelId: string, to: string) => {
    const r = await stack.sendMessage({ channel_id: channelId, to, body: 'hello' });
    expect(r.status).toBe(202);
    return r.body.id ?? '';
  };
  const events = async (id: string) => {
    const res = await stack.app.inject({ method: 'GET', url: `/v1/messages/${id}/events`, headers: { authorization: `Bearer ${stack.apiKey}` } });
    expect(res.statusCode).toBe(200);
    return res.json<{ events: EventView[] }>().events;
  };
  const time = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN);

  /** Posts a delivered status callback for a sent message, signed the way Twilio signs it. */
  const twilioDelivered = async (id: string, sent: MessageView, extra: Record<string, string>) => {
    const url = stack.twilio.requests.find((r) => (r.form.StatusCallback ?? '').includes(id))?.form.StatusCallback ?? '';
    const sid = sent.provider_message_id ?? '';
    const params = {
      MessageSid: sid,
      SmsSid: sid,
      AccountSid: stack.twilioAccount.sid,
      From: '+15017122661',
      To: NO_CALLBACKS,
      MessageStatus: 'delivered',
      SmsStatus: 'delivered',
      ApiVersion: '2010-04-01',
      ...extra,
    };
    const u = new URL(url);
    const res = await stack.app.inject({
      method: 'POST',
      url: u.pathname + u.search,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(stack.twilioAccount.authToken, url, params) },
      payload: new URLSearchParams(params).toString(),
    });
    expect(res.statusCode).toBe(204);
  };

  /** Every status time of the row, in status order, is at or after the one before it. */
  const expectInOrder = (m: MessageView) => {
    const times = ['created_at', 'sending_at', 'sent_at', 'delivered_at', 'read_at'].map((k) => m[k] as string | null).filter((t) => t !== null);
    expect(times.map(time)).toEqual([...times.map(time)].sort((a, b) => a - b));
  };

  it('Twilio: a RawDlrDoneDate a minute before the send → delivered_at = sent_at, the event keeps the provider time', async () => {
    const id = await send(smsChannel, NO_CALLBACKS);
    const sent = await stack.waitForStatus(id, 'sent');
    const coarse = minuteOf(time(sent.sent_at) - 60_000);
    await twilioDelivered(id, sent, { RawDlrDoneDate: coarse.donedate });

    const delivered = await stack.waitForStatus(id, 'delivered');
    expect(time(delivered.delivered_at)).toBeGreaterThanOrEqual(time(delivered.sent_at));
    // Never earlier than the status before, and no later than it needs to be.
    expect(delivered.delivered_at).toBe(delivered.sent_at);
    expectInOrder(delivered);
    const ev = await events(id);
    const receipt = ev.find((e) => e.status === 'delivered');
    expect(receipt).toMatchObject({ source: 'webhook', provider_time: coarse.at.toISOString(), occurred_at: delivered.delivered_at });
    expect(time(receipt?.occurred_at)).toBeGreaterThanOrEqual(time(delivered.sent_at));
    // Our own statuses carry no provider time.
    expect(ev.filter((e) => e.status !== 'delivered').map((e) => [e.status, e.provider_time])).toEqual([
      ['queued', null],
      ['sending', null],
      ['sent', null],
    ]);
    // Each event is at or after the one before it.
    expect(ev.map((e) => time(e.occurred_at))).toEqual(ev.map((e) => time(e.occurred_at)).sort((a, b) => a - b));
  });

  it('Twilio: a provider time later than the send is kept as given', async () => {
    const id = await send(smsChannel, NO_CALLBACKS);
    const sent = await stack.waitForStatus(id, 'sent');
    // Two minutes on, truncated to the minute: at least a minute after the send.
    const later = minuteOf(time(sent.sent_at) + 120_000);
    await twilioDelivered(id, sent, { RawDlrDoneDate: later.donedate });

    const delivered = await stack.waitForStatus(id, 'delivered');
    expect(delivered.delivered_at).toBe(later.at.toISOString());
    const receipt = (await events(id)).find((e) => e.status === 'delivered');
    expect(receipt).toMatchObject({ provider_time: later.at.toISOString(), occurred_at: later.at.toISOString() });
  });

  it('Twilio: a receipt without a provider time has provider_time null and is timed on arrival, after the send', async () => {
    const id = await send(smsChannel, NO_CALLBACKS);
    const sent = await stack.waitForStatus(id, 'sent');
    const before = Date.now();
    await twilioDelivered(id, sent, {});

    const delivered = await stack.waitForStatus(id, 'delivered');
    expect(time(delivered.delivered_at)).toBeGreaterThanOrEqual(Math.max(before, time(delivered.sent_at)));
    const receipt = (await events(id)).find((e) => e.status === 'delivered');
    expect(receipt).toMatchObject({ provider_time: null, occurred_at: delivered.delivered_at });
  });

  it('Twilio: receipts that arrive before the send returns (the simulator’s own minute-coarse done date) still read in order', async () => {
    const id = await send(smsChannel, CALLBACKS_BEFORE_SEND_RETURNS);
    const delivered = await stack.waitForStatus(id, 'delivered');
    expectInOrder(delivered);
    expect(time(delivered.sent_at)).toBeLessThanOrEqual(time(delivered.delivered_at));
    const ev = await events(id);
    expect(ev.map((e) => e.status)).toEqual(['queued', 'sending', 'sent', 'delivered']);
    // The simulator dates the delivery to the minute it happened in.
    expect(ev.at(-1)?.provider_time).toMatch(/T\d{2}:\d{2}:00\.000Z$/);
    expect(ev.map((e) => time(e.occurred_at))).toEqual(ev.map((e) => time(e.occurred_at)).sort((a, b) => a - b));
  });

  it('Jasmin: a DLR whose donedate is a minute before the send → delivered_at = sent_at, the event keeps the donedate', async () => {
    const id = await send(smpp.id, NO_RECEIPTS); // the SMSC sends no receipt for this number: the test posts it
    const sent = await stack.waitForStatus(id, 'sent');
    const coarse = minuteOf(time(sent.sent_at) - 60_000);
    expect(receiptDate(coarse.at)).toBe(coarse.donedate);
    const dlr = await fetch(`${smpp.webhook_url}?message_id=${id}&token=${callbackToken(smpp.webhook_secret, id)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        id: sent.provider_message_id ?? '',
        level: '2',
        message_status: 'DELIVRD',
        connector: 'smsc1',
        err: '000',
        donedate: coarse.donedate,
      }).toString(),
    });
    expect([dlr.status, await dlr.text()]).toEqual([200, 'ACK/Jasmin']);

    const delivered = await stack.waitForStatus(id, 'delivered');
    expect(time(delivered.delivered_at)).toBeGreaterThanOrEqual(time(delivered.sent_at));
    expect(delivered.delivered_at).toBe(delivered.sent_at);
    expectInOrder(delivered);
    const receipt = (await events(id)).find((e) => e.status === 'delivered');
    expect(receipt).toMatchObject({ source: 'webhook', provider_time: coarse.at.toISOString() });
    expect(time(receipt?.occurred_at)).toBeGreaterThanOrEqual(time(delivered.sent_at));
  });
});
