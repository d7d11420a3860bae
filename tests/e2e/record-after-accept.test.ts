import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startStack, type TestStack } from '../support/stack';

// Once the provider has accepted a message, a failing write of that acceptance is tried again on
// its own: the send is never made again, for a single message or a batched group's recipient.
// The fault is real: a trigger on `messages` refuses the first two writes of a provider id for
// the chosen numbers (a sequence counts them, outside the refused statement's transaction).

const FAULTY = ['+15558800001', '+15558800002'];
const REFUSALS = 2;

describe('a refused write after the provider accepted', () => {
  let stack: TestStack;
  let channelId: string;

  beforeAll(async () => {
    stack = await startStack({ logLevel: 'warn' });
    channelId = await stack.createSmsChannel({ name: 'record faults', rate_limit_per_second: 1000 });
    const numbers = FAULTY.map((n) => `'${n}'`).join(', ');
    await stack.database.pool.query(`
      CREATE SEQUENCE IF NOT EXISTS test_record_fault_seq;
      CREATE OR REPLACE FUNCTION test_record_fault() RETURNS trigger AS $$
      BEGIN
        IF NEW.to_address IN (${numbers}) AND NEW.metadata_ ? 'provider_message_id' AND NOT OLD.metadata_ ? 'provider_message_id' THEN
          IF nextval('test_record_fault_seq') % ${REFUSALS + 1} <> 0 THEN
            RAISE EXCEPTION 'injected fault: the write of % is refused', NEW.to_address;
          END IF;
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql;
      DROP TRIGGER IF EXISTS test_record_fault ON messages;
      CREATE TRIGGER test_record_fault BEFORE UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION test_record_fault();`);
  });
  afterAll(async () => {
    await stack?.database.pool.query(
      'DROP TRIGGER IF EXISTS test_record_fault ON messages; DROP FUNCTION IF EXISTS test_record_fault(); DROP SEQUENCE IF EXISTS test_record_fault_seq',
    );
    await stack?.close();
  });

  const refusals = (to: string) => stack.logs.filter((l) => l.event === 'record_sent_failed' && String(l.err).includes(to)).length;
  const requestsTo = (to: string, body: string) => stack.twilio.requests.filter((r) => r.form.To === to && r.form.Body === body);
  const statusOf = async (where: string, param: string) =>
    (
      await stack.database.pool.query<{ status: string; to_address: string; provider_message_id: string | null }>(
        `SELECT status, to_address, metadata_->>'provider_message_id' AS provider_message_id FROM messages WHERE ${where} = $1`,
        [param],
      )
    ).rows;

  it('a single message: sent once, its row written on the third try, delivered', async () => {
    const to = FAULTY[0] ?? '';
    const body = 'record fault single';
    const res = await stack.sendMessage({ channel_id: channelId, to, body });
    expect(res.status).toBe(202);
    const rows = await eventually(async () => {
      const r = await statusOf('id', res.body.id ?? '');
      return r[0]?.status === 'delivered' && r[0].provider_message_id ? r : undefined;
    }, 60_000);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.provider_message_id).toMatch(/^SM[0-9a-f]{32}$/);
    expect(requestsTo(to, body)).toHaveLength(1);
    expect(refusals(to)).toBe(REFUSALS);
  });

  it('a batched group: the refused recipient is sent once and delivered like the others', async () => {
    const to = FAULTY[1] ?? '';
    const body = 'record fault batched';
    const recipients = [...Array.from({ length: 20 }, (_, i) => ({ to: `+1555880${String(100 + i).padStart(4, '0')}` })), { to }];
    const res = await fetch(`${stack.apiUrl}/v1/group-messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel_id: channelId, body, mode: 'batched', recipients }),
    });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as { id: string }).id;
    const rows = await eventually(async () => {
      const r = await statusOf('group_message_id', id);
      return r.length === recipients.length && r.every((x) => x.status === 'delivered' && x.provider_message_id) ? r : undefined;
    }, 60_000);
    expect(rows.map((r) => r.to_address).sort()).toEqual(recipients.map((r) => r.to).sort());
    for (const r of recipients) expect(requestsTo(r.to, body), r.to).toHaveLength(1);
    expect(refusals(to)).toBe(REFUSALS);
  });
});
