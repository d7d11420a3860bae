import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callbackToken } from '../../adapters/callback-token';
import { startJasminSimulator, type JasminSimulator } from '../../sandbox/jasmin/server';
import { SEARCH_ATTRIBUTES } from '../../workflows/definitions';
import { startStack, type TestStack } from '../support/stack';

const USER = { username: 'turumba', password: 'e2e-jasmin-pw' };
const ADMIN = { username: 'admin', password: 'e2e-admin-pw' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('SMPP through Jasmin, through the whole engine (Temporal + Postgres + Jasmin HTTP API simulator)', () => {
  let stack: TestStack;
  let jasmin: JasminSimulator;
  let channel: { id: string; webhook_url: string; webhook_secret: string };

  const credentials = (extra: Record<string, string> = {}) => ({
    base_url: jasmin.url,
    username: USER.username,
    password: USER.password,
    from: 'TURUMBA',
    rest_api_url: jasmin.url,
    connector_id: 'smsc1',
    rest_api_username: ADMIN.username,
    rest_api_password: ADMIN.password,
    ...extra,
  });

  beforeAll(async () => {
    stack = await startStack();
    // Jasmin's real DLR retry_delay is 30 s; a shorter one keeps a failed ACK visible within the test.
    jasmin = await startJasminSimulator({ users: [USER], managementUsers: [ADMIN], dlrDelayMs: 30, dlrRetryDelayMs: 300 });
    channel = await stack.createChannel({ channel_type: 'smpp', provider: 'jasmin', name: 'sandbox smpp', credentials: credentials() });
  });
  afterAll(async () => {
    await jasmin?.close();
    await stack?.close();
  });

  const send = async (to: string, body = 'Your code is 4821', channelId = channel.id, headers: Record<string, string> = {}) => {
    const accepted = await stack.sendMessage({ channel_id: channelId, to, body }, headers);
    expect(accepted.status).toBe(202);
    return accepted.body.id ?? '';
  };
  /** /send requests made for one of our messages (the engine's dlr-url carries our id). */
  const sendsFor = (id: string) => jasmin.requests.filter((r) => (r.args['dlr-url'] ?? '').includes(`message_id=${id}`));
  const dlrCallsFor = (id: string) => jasmin.dlrCalls.filter((c) => c.url.includes(`message_id=${id}`));
  const handle = (id: string) => stack.temporal.workflow.getHandle(`message-${id}`);
  const historyLength = async (id: string) => (await handle(id).fetchHistory()).events?.length ?? 0;

  it('verifies the channel: the HTTP API login and the SMPP connector', async () => {
    const res = await stack.app.inject({ method: 'POST', url: `/v1/channels/${channel.id}/verify`, headers: { authorization: `Bearer ${stack.apiKey}` } });
    expect(res.json()).toEqual({
      id: channel.id,
      ok: true,
      detail: 'jasmin user turumba authenticated (balance ND, sms_count ND); connector smsc1 started, bound (BOUND_TRX)',
    });
  });

  it('API → workflow → /send → DLR → webhook answered ACK/Jasmin → delivered', async () => {
    const id = await send('+447700900100', 'Your code is 4821', channel.id, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });

    const delivered = await stack.waitForStatus(id, 'delivered');
    expect(delivered.provider_message_id).toMatch(UUID);
    expect(delivered.sent_at).not.toBeNull();
    expect(delivered.delivered_at).not.toBeNull();

    const [request] = sendsFor(id);
    expect(request?.headers['x-trace-id']).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(request?.body).toBe(`Success "${delivered.provider_message_id}"`);
    expect(request?.args).toEqual({
      username: USER.username,
      password: USER.password,
      to: '447700900100',
      coding: '0',
      content: 'Your code is 4821',
      from: 'TURUMBA',
      dlr: 'yes',
      'dlr-url': `${stack.apiUrl}/webhooks/smpp/${channel.id}?message_id=${id}&token=${callbackToken(channel.webhook_secret, id)}`,
      'dlr-level': '2',
      'dlr-method': 'POST',
    });
    // Jasmin saw exactly its acknowledgement, so it threw the receipt once and never again.
    await new Promise((r) => setTimeout(r, 500));
    expect(dlrCallsFor(id)).toEqual([
      expect.objectContaining({ level: 2, messageStatus: 'DELIVRD', attempt: 1, httpStatus: 200, body: 'ACK/Jasmin', acked: true }),
    ]);

    expect(await handle(id).result()).toMatchObject({ status: 'delivered', providerMessageId: delivered.provider_message_id });
    const desc = await handle(id).describe();
    expect(desc.status.name).toBe('COMPLETED');
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.messageStatus)).toBe('delivered');
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.channelType)).toBe('smpp');
    console.info(`[measure] smpp delivered at dlr-level 2: ${await historyLength(id)} workflow history events`);
  });

  it('an UNDELIV receipt ends the message undelivered with the SMSC error', async () => {
    const id = await send('+447700900001');
    const undelivered = await stack.waitForStatus(id, 'undelivered');
    expect(undelivered.error).toEqual({ code: '001', message: 'SMSC receipt UNDELIV (err 001)' });
    // The row moves first (the webhook route writes it), then the signalled workflow finishes.
    expect(await handle(id).result()).toMatchObject({ status: 'undelivered' });
    expect((await handle(id).describe()).status.name).toBe('COMPLETED');
  });

  it('a REJECTD receipt ends the message failed with the SMSC error code', async () => {
    const id = await send('+447700900002');
    const failed = await stack.waitForStatus(id, 'failed');
    expect(failed.error).toEqual({ code: '045', message: 'SMSC receipt REJECTD (err 045)' });
    expect(failed.sent_at).not.toBeNull();
  });

  it('no route fails the message permanently after one attempt', async () => {
    const id = await send('+447700900412');
    const failed = await stack.waitForStatus(id, 'failed');
    expect(failed.error?.code).toBe('jasmin_no_route');
    await expect(handle(id).result()).rejects.toThrow();
    expect((await handle(id).describe()).status.name).toBe('FAILED');
    expect(sendsFor(id)).toHaveLength(1);
    expect(failed.provider_message_id).toBeNull();
  });

  it('retries a 500 from Jasmin and ends delivered, queued once', async () => {
    const id = await send('+447700900500');
    await stack.waitForStatus(id, 'delivered');
    expect(sendsFor(id).map((r) => r.status)).toEqual([500, 500, 200]);
    expect(jasmin.sendCount(id)).toBe(1);
  });

  it("waits out the user's throughput quota and ends delivered", async () => {
    const id = await send('+447700900429');
    await stack.waitForStatus(id, 'delivered');
    const [first, second] = sendsFor(id);
    expect([first?.status, second?.status]).toEqual([403, 200]);
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('a 400-character message is split by Jasmin and still ends in exactly one final status', async () => {
    const long = `${'Habari! '.repeat(50)}`;
    expect(long).toHaveLength(400);
    const id = await send('+447700900008', long);

    const delivered = await stack.waitForStatus(id, 'delivered');
    await new Promise((r) => setTimeout(r, 500));
    // The SMSC answered for every part; Jasmin relays the last part's receipt only (the one it asked for).
    expect(jasmin.unmappedReceipts.filter((u) => u.id === delivered.provider_message_id).map((u) => `${u.part}/${u.of}`)).toEqual(['1/3', '2/3']);
    expect(dlrCallsFor(id).map((c) => [c.messageStatus, c.acked])).toEqual([['DELIVRD', true]]);
    expect((await stack.getMessage(id)).body.status).toBe('delivered');
    expect(await handle(id).result()).toMatchObject({ status: 'delivered' });
  });

  it("refuses forged DLRs (no token, wrong token, another message's token) and changes nothing", async () => {
    const id = await send('+447700900004'); // the SMSC never sends a receipt for this number
    const sent = await stack.waitForStatus(id, 'sent');
    const form = new URLSearchParams({ id: sent.provider_message_id ?? '', level: '2', message_status: 'DELIVRD', connector: 'smsc1', err: '000' }).toString();
    const post = (query: string) =>
      fetch(`${channel.webhook_url}?${query}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });

    const forged = [
      await post(`message_id=${id}`),
      await post(`message_id=${id}&token=${callbackToken('guessed-secret', id)}`),
      await post(`message_id=${id}&token=${callbackToken(channel.webhook_secret, '0190f0aa-0000-7000-8000-000000000001')}`),
    ];
    expect(forged.map((r) => r.status)).toEqual([401, 401, 401]);
    await new Promise((r) => setTimeout(r, 300));
    expect((await stack.getMessage(id)).body.status).toBe('sent');

    // The same receipt with the token the engine gave Jasmin is taken, and answered the way Jasmin wants.
    const genuine = await post(`message_id=${id}&token=${callbackToken(channel.webhook_secret, id)}`);
    expect(genuine.status).toBe(200);
    expect(await genuine.text()).toBe('ACK/Jasmin');
    await stack.waitForStatus(id, 'delivered');
  });

  it('an UNKNOWN receipt is not final: the DELIVRD that follows ends the message delivered', async () => {
    const id = await send('+447700900004'); // the SMSC never sends a receipt for this number: the test posts them
    const sent = await stack.waitForStatus(id, 'sent');
    const receipt = (stat: string) =>
      fetch(`${channel.webhook_url}?message_id=${id}&token=${callbackToken(channel.webhook_secret, id)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          id: sent.provider_message_id ?? '',
          level: '2',
          message_status: stat,
          connector: 'smsc1',
          err: '000',
          donedate: 'ND',
        }).toString(),
      });

    const unknown = await receipt('UNKNOWN');
    expect([unknown.status, await unknown.text()]).toEqual([200, 'ACK/Jasmin']);
    await new Promise((r) => setTimeout(r, 300));
    expect((await stack.getMessage(id)).body).toMatchObject({ status: 'sent', error: null });

    expect((await receipt('DELIVRD')).status).toBe(200);
    const delivered = await stack.waitForStatus(id, 'delivered');
    expect(delivered.error).toBeNull();
    expect(await handle(id).result()).toMatchObject({ status: 'delivered' });
  });

  it('a malformed DLR is answered 400 and changes nothing', async () => {
    const id = await send('+447700900004');
    await stack.waitForStatus(id, 'sent');
    const res = await fetch(`${channel.webhook_url}?message_id=${id}&token=${callbackToken(channel.webhook_secret, id)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'level=2&message_status=DELIVRD',
    });
    expect(res.status).toBe(400);
    expect((await stack.getMessage(id)).body.status).toBe('sent');
  });

  describe('a channel asking for both receipt levels (dlr_level 3, GET)', () => {
    let level3: string;
    beforeAll(async () => {
      level3 = (await stack.createChannel({ channel_type: 'smpp', name: 'smpp dlr 3', credentials: credentials({ dlr_level: '3', dlr_method: 'GET' }) })).id;
    });

    it('fails the message on a submit_sm the SMSC refused', async () => {
      const id = await send('+447700900005', 'Your code is 4821', level3);
      const failed = await stack.waitForStatus(id, 'failed');
      expect(failed.error?.code).toBe('ESME_RINVDSTADR');
    });

    it('ends delivered after the SMSC-level and terminal receipts', async () => {
      const id = await send('+447700900100', 'Your code is 4821', level3);
      await stack.waitForStatus(id, 'delivered');
      await new Promise((r) => setTimeout(r, 300));
      // The two receipts travel independently and may arrive in either order.
      expect(
        dlrCallsFor(id)
          .map((c) => [c.method, c.level, c.messageStatus, c.acked])
          .sort((a, b) => Number(a[1]) - Number(b[1])),
      ).toEqual([
        ['GET', 1, 'ESME_ROK', true],
        ['GET', 2, 'DELIVRD', true],
      ]);
      console.info(`[measure] smpp delivered at dlr-level 3: ${await historyLength(id)} workflow history events`);
    });
  });
});
