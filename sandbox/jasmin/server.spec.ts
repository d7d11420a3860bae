import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { statusCallbackUrl } from '../../adapters/callback-token';
import { JasminSmppAdapter } from '../../adapters/smpp/jasmin';
import { PermanentSendError, RateLimitedError, TransientSendError, type Credentials, type StatusUpdate, type WebhookRequest } from '../../adapters/types';
import type { LocalServer } from '../../tests/support/local-server';
import { sendError } from '../../tests/support/send-error';
import { waitFor } from '../../tests/support/wait-for';
import { listenForWebhooks } from '../../tests/support/webhook-listener';
import { startJasminSimulator, type JasminSimulator } from './server';
import { EgressPolicy } from '../../adapters/egress';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

const USER = { username: 'turumba', password: 'sim-pass' };
const ADMIN = { username: 'admin', password: 'admin-pass' };
const SECRET = 'channel-webhook-secret';
const RETRY_DELAY_MS = 100;

/** Our side of the DLRs: records each call as the API would see it, answers as told per message (then ACK/Jasmin). */
interface Receiver extends LocalServer {
  received: WebhookRequest[];
  /** Scripted answers by our message id. */
  answers: Map<string, Array<{ status: number; body: string }>>;
}

async function startReceiver(): Promise<Receiver> {
  const received: WebhookRequest[] = [];
  const answers = new Map<string, Array<{ status: number; body: string }>>();
  const server = await listenForWebhooks((req) => {
    const answer = answers.get(req.query.message_id ?? '')?.shift() ?? { status: 200, body: 'ACK/Jasmin' };
    received.push(req);
    return { status: answer.status, headers: { 'content-type': 'text/plain' }, body: answer.body };
  });
  return { ...server, received, answers };
}

const adapter = new JasminSmppAdapter(LOOPBACK);
let sim: JasminSimulator;
let receiver: Receiver;
let creds: Credentials;

beforeAll(async () => {
  sim = await startJasminSimulator({ users: [USER], managementUsers: [ADMIN], dlrDelayMs: 10, dlrRetryDelayMs: RETRY_DELAY_MS });
  receiver = await startReceiver();
  creds = { base_url: sim.url, username: USER.username, password: USER.password, from: 'TURUMBA' };
});

afterAll(async () => {
  await sim.close();
  await receiver.close();
});

beforeEach(() => {
  sim.setMode({ serverErrorRate: 0, throughputRate: 0, noRouteAll: false });
  sim.setConnector('smsc1', { status: 'started', session: 'BOUND_TRX' });
});

/** A fresh message of ours with the engine's dlr-url (message_id + token). */
function message(to: string, body = 'Your code is 4821') {
  const id = randomUUID();
  const dlrUrl = statusCallbackUrl(receiver.url, 'smpp', 'ch_test', id, SECRET);
  return {
    id,
    dlrUrl,
    payload: { messageId: id, to, body },
    ctx: { traceId: randomUUID().replace(/-/g, ''), statusCallbackUrl: dlrUrl },
    calls: () => receiver.received.filter((r) => r.query.message_id === id),
    updates: (): StatusUpdate[] => receiver.received.filter((r) => r.query.message_id === id).flatMap((r) => adapter.parseStatusUpdates(r)),
    dlrCalls: () => sim.dlrCalls.filter((c) => c.url === dlrUrl),
  };
}

describe('Jasmin simulator round trip with the real adapter', () => {
  it('accepts a send and throws a DELIVRD receipt that the adapter verifies and reads', async () => {
    const m = message('+447700900100');

    const result = await adapter.send(m.payload, creds, m.ctx);

    expect(result.providerMessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sim.sendCount(m.id)).toBe(1);
    expect(sim.sendCount('+447700900100')).toBeGreaterThanOrEqual(1);
    const request = sim.requests.find((r) => r.args['dlr-url'] === m.dlrUrl);
    expect(request).toMatchObject({ method: 'POST', path: '/send', status: 200, body: `Success "${result.providerMessageId}"` });
    expect(request?.args).toMatchObject({ to: '447700900100', content: 'Your code is 4821', coding: '0', dlr: 'yes', 'dlr-level': '2' });
    expect(request?.headers['x-trace-id']).toBe(m.ctx.traceId);

    await waitFor(() => m.calls().length === 1);
    const [call] = m.calls();
    expect(call?.method).toBe('POST');
    expect(call?.headers['user-agent']).toBe('Jasmin gateway/1.0 DLRThrower');
    expect(adapter.verifyWebhookSignature(call as WebhookRequest, SECRET)).toBe(true);
    expect(Object.keys(call?.body as object)).toEqual([
      'id',
      'level',
      'message_status',
      'connector',
      'id_smsc',
      'sub',
      'dlvrd',
      'subdate',
      'donedate',
      'err',
      'text',
    ]);
    expect(m.updates()).toEqual([expect.objectContaining({ providerMessageId: result.providerMessageId, messageId: m.id, status: 'delivered' })]);
    // The thrower records a call once it has read the answer, just after the receiver saw it.
    await waitFor(() => m.dlrCalls().length === 1);
    expect(m.dlrCalls()).toEqual([
      expect.objectContaining({ level: 2, messageStatus: 'DELIVRD', attempt: 1, httpStatus: 200, body: 'ACK/Jasmin', acked: true }),
    ]);
  });

  it('throws the SMSC-level receipt first at dlr-level 3, by GET when asked', async () => {
    const m = message('+447700900101');

    await adapter.send(m.payload, { ...creds, dlr_level: '3', dlr_method: 'GET' }, m.ctx);

    await waitFor(() => m.calls().length === 2);
    expect(m.calls().map((c) => c.method)).toEqual(['GET', 'GET']);
    expect(m.calls().every((c) => adapter.verifyWebhookSignature(c, SECRET))).toBe(true);
    expect(m.calls()[0]?.query).toMatchObject({ level: '1', message_status: 'ESME_ROK', connector: 'smsc1' });
    expect(m.updates().map((u) => u.status)).toEqual(['sent', 'delivered']);
  });

  it.each([
    ['+447700900001', 'undelivered', '001'],
    ['+447700900002', 'failed', '045'],
    ['+447700900003', 'undelivered', 'EXPIRED'],
  ])('ends %s as %s with error %s', async (to, status, errorCode) => {
    const m = message(to);
    await adapter.send(m.payload, creds, m.ctx);
    await waitFor(() => m.calls().length === 1);
    expect(m.updates()).toEqual([expect.objectContaining({ status, errorCode })]);
  });

  it('relays an intermediate ACCEPTD before DELIVRD', async () => {
    const m = message('+447700900006');
    await adapter.send(m.payload, creds, m.ctx);
    await waitFor(() => m.calls().length === 2);
    expect(m.updates().map((u) => u.status)).toEqual(['sent', 'delivered']);
  });

  it('reports a submit_sm refused by the SMSC at level 1 and no terminal receipt', async () => {
    const m = message('+447700900005');
    await adapter.send(m.payload, { ...creds, dlr_level: '3' }, m.ctx);
    await waitFor(() => m.calls().length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(m.updates()).toEqual([expect.objectContaining({ status: 'failed', errorCode: 'ESME_RINVDSTADR' })]);
  });

  it('sends no receipt for +447700900004', async () => {
    const m = message('+447700900004');
    await adapter.send(m.payload, creds, m.ctx);
    await new Promise((r) => setTimeout(r, 150));
    expect(m.calls()).toEqual([]);
  });

  it('refuses an unrouted destination with 412, permanently', async () => {
    const m = message('+447700900412');
    const err = await sendError(adapter.send(m.payload, creds, m.ctx));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err).toMatchObject({ code: 'jasmin_no_route', message: 'jasmin HTTP 412 (no MT route matches this user and destination): No route found' });
    expect(sim.sendCount(m.id)).toBe(0);
  });

  it('fails the first two attempts of a message to +447700900500 with a transient 500', async () => {
    const m = message('+447700900500');
    for (let i = 0; i < 2; i++) {
      const err = await sendError(adapter.send(m.payload, creds, m.ctx));
      expect(err).toBeInstanceOf(TransientSendError);
      expect(err).toMatchObject({ code: 'jasmin_server_error' });
    }
    await adapter.send(m.payload, creds, m.ctx);
    expect(sim.sendCount(m.id)).toBe(1);
    await waitFor(() => m.updates().some((u) => u.status === 'delivered'));
  });

  it("throttles the first attempt of a message to +447700900429 with the user's throughput quota", async () => {
    const m = message('+447700900429');
    const err = await sendError(adapter.send(m.payload, creds, m.ctx));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ code: 'jasmin_throughput', retryAfterMs: 1000 });
    await expect(adapter.send(m.payload, creds, m.ctx)).resolves.toMatchObject({ status: 'queued' });
  });

  it('refuses a wrong password with 403 and does not echo it', async () => {
    const m = message('+447700900100');
    const err = await sendError(adapter.send(m.payload, { ...creds, password: 'wrong-pass' }, m.ctx));
    expect(err).toMatchObject({
      code: 'jasmin_auth',
      message: 'jasmin HTTP 403 (unknown username or wrong password): Authentication failure for username:turumba',
    });
  });

  it('sends non-GSM text as UCS-2 hex-content', async () => {
    const m = message('+447700900100', 'Habari yako? Ça va 😀');
    await adapter.send(m.payload, creds, m.ctx);
    const request = sim.requests.find((r) => r.args['dlr-url'] === m.dlrUrl);
    expect(request?.args).toMatchObject({ coding: '8' });
    expect(
      Buffer.from(request?.args['hex-content'] ?? '', 'hex')
        .swap16()
        .toString('utf16le'),
    ).toBe('Habari yako? Ça va 😀');
  });
});

describe('Jasmin simulator: DLRThrower retries', () => {
  it('calls again when the answer is not exactly ACK/Jasmin, and stops at the first ACK', async () => {
    const m = message('+447700900100');
    receiver.answers.set(m.id, [
      { status: 200, body: 'OK' },
      { status: 500, body: 'oops' },
    ]);

    await adapter.send(m.payload, creds, m.ctx);

    await waitFor(() => m.dlrCalls().some((c) => c.acked), 3000);
    expect(m.dlrCalls().map((c) => [c.attempt, c.httpStatus, c.acked])).toEqual([
      [1, 200, false],
      [2, 500, false],
      [3, 200, true],
    ]);
    const [first, , third] = m.dlrCalls();
    expect((third?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(2 * RETRY_DELAY_MS - 5);
  });

  it('gives up after max_retries (4 calls in all)', async () => {
    const m = message('+447700900100');
    receiver.answers.set(
      m.id,
      Array.from({ length: 6 }, () => ({ status: 401, body: '{"error":"invalid_signature"}' })),
    );

    await adapter.send(m.payload, creds, m.ctx);

    await waitFor(() => m.dlrCalls().length === 4, 3000);
    await new Promise((r) => setTimeout(r, 3 * RETRY_DELAY_MS));
    expect(m.dlrCalls()).toHaveLength(4);
    expect(m.dlrCalls().every((c) => !c.acked && c.httpStatus === 401)).toBe(true);
  });
});

describe('Jasmin simulator: long messages', () => {
  const long = 'x'.repeat(400); // 3 parts of at most 153 GSM-7 characters

  it('relays one receipt for a long message: the last part is the only one Jasmin asks a receipt for', async () => {
    const m = message('+447700900100', long);
    await adapter.send(m.payload, creds, m.ctx);
    await waitFor(() => m.calls().length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(m.updates().map((u) => u.status)).toEqual(['delivered']);
    expect(sim.unmappedReceipts.filter((u) => u.id === m.updates()[0]?.providerMessageId)).toEqual([]);
  });

  it('drops the receipts of other parts when the SMSC sends one per part', async () => {
    const m = message('+447700900008', long);
    const { providerMessageId } = await adapter.send(m.payload, creds, m.ctx);
    await waitFor(() => sim.unmappedReceipts.filter((u) => u.id === providerMessageId).length === 2 && m.calls().length === 1);
    expect(m.updates().map((u) => u.status)).toEqual(['delivered']);
    expect(sim.unmappedReceipts.filter((u) => u.id === providerMessageId).map((u) => `${u.part}/${u.of}`)).toEqual(['1/3', '2/3']);
  });

  it('relays nothing when the SMSC answers for the first part only', async () => {
    const m = message('+447700900009', long);
    const { providerMessageId } = await adapter.send(m.payload, creds, m.ctx);
    await waitFor(() => sim.unmappedReceipts.some((u) => u.id === providerMessageId));
    await new Promise((r) => setTimeout(r, 50));
    expect(m.calls()).toEqual([]);
  });
});

describe('Jasmin simulator: credentials, connectors and raw answers', () => {
  it('checks credentials through /balance and the connector through the management API', async () => {
    const rest = { rest_api_url: sim.url, connector_id: 'smsc1', rest_api_username: ADMIN.username, rest_api_password: ADMIN.password };

    expect(await adapter.verifyCredentials({ ...creds, ...rest })).toEqual({
      ok: true,
      detail: 'jasmin user turumba authenticated (balance ND, sms_count ND); connector smsc1 started, bound (BOUND_TRX)',
    });
    expect(await adapter.verifyCredentials({ ...creds, password: 'nope' })).toEqual({
      ok: false,
      detail: 'jasmin user turumba: authentication failed (jasmin_auth)',
    });
    sim.setConnector('smsc1', { status: 'stopped', session: 'NONE' });
    expect(await adapter.verifyCredentials({ ...creds, ...rest })).toMatchObject({
      ok: false,
      detail: expect.stringContaining('connector smsc1 stopped, not bound (NONE)') as unknown,
    });
    expect(await adapter.verifyCredentials({ ...creds, ...rest, rest_api_password: 'nope' })).toMatchObject({
      ok: false,
      detail: expect.stringContaining('management API refused the credentials (HTTP 401)') as unknown,
    });
  });

  it("reads the connector from Jasmin's /metrics when there is no management API", async () => {
    expect(await adapter.verifyCredentials({ ...creds, connector_id: 'smsc1' })).toEqual({
      ok: true,
      detail: 'jasmin user turumba authenticated (balance ND, sms_count ND); connector smsc1 connected (/metrics: 1 connects, 1 binds, 0 disconnects)',
    });
    sim.setConnector('smsc1', { status: 'stopped', session: 'NONE' });
    expect(await adapter.verifyCredentials({ ...creds, connector_id: 'smsc1' })).toMatchObject({
      ok: false,
      detail: expect.stringContaining('connector smsc1 not connected') as unknown,
    });
    expect(await adapter.verifyCredentials({ ...creds, connector_id: 'smsc9' })).toMatchObject({
      ok: false,
      detail: expect.stringContaining('connector smsc9 not found in /metrics') as unknown,
    });
  });

  it('queues but never receipts a message while the connector is unbound', async () => {
    sim.setConnector('smsc1', { session: 'UNBOUND' });
    const m = message('+447700900100');
    await adapter.send(m.payload, creds, m.ctx);
    await new Promise((r) => setTimeout(r, 100));
    expect(m.calls()).toEqual([]);
  });

  it("answers like Jasmin's Twisted resources", async () => {
    const get = async (path: string) => {
      const res = await fetch(`${sim.url}${path}`);
      return [res.status, await res.text()];
    };
    const auth = `username=${USER.username}&password=${USER.password}`;
    expect(await get('/ping')).toEqual([200, 'Jasmin/PONG']);
    expect(await get(`/balance?${auth}`)).toEqual([200, '{"balance": "ND", "sms_count": "ND"}']);
    expect(await get('/balance?username=turumba&password=x')).toEqual([403, '"Authentication failure for username:turumba"']);
    expect(await get(`/rate?${auth}&to=447700900100&content=${'x'.repeat(161)}`)).toEqual([200, '{"unit_rate": 0.0, "submit_sm_count": 2}']);
    expect(await get(`/rate?${auth}&to=447700900412`)).toEqual([412, '"No route found"']);
    expect(await get(`/send?${auth}&to=447700900100&content=hi&foo=1`)).toEqual([400, 'Error "Argument [foo] is unknown."']);
    expect(await get(`/send?${auth}&to=abc&content=hi`)).toEqual([400, 'Error "Argument [to] has an invalid value: [abc]."']);
    expect(await get(`/send?${auth}&to=447700900100`)).toEqual([400, 'Error "content or hex-content not present."']);
    expect(await get(`/send?username=turumba&password=x&to=447700900100&content=hi`)).toEqual([403, 'Error "Authentication failure for username:turumba"']);
    const [status, body] = await get(`/send?${auth}&to=447700900100&content=hi`);
    expect(status).toBe(200);
    expect(body).toMatch(/^Success "[0-9a-f-]{36}"$/);
  });

  it("enforces the user's sms_count and http_throughput quotas", async () => {
    const quota = await startJasminSimulator({ users: [{ username: 'q', password: 'p', smsCount: 2, httpThroughput: 1 }] });
    try {
      const send = async (content: string) => {
        const res = await fetch(`${quota.url}/send`, {
          method: 'POST',
          body: new URLSearchParams({ username: 'q', password: 'p', to: '447700900100', content }),
        });
        return [res.status, await res.text()];
      };
      expect((await send('one'))[0]).toBe(200);
      expect(await send('two')).toEqual([403, 'Error "User throughput exceeded"']);
      await new Promise((r) => setTimeout(r, 1050));
      expect(await send('x'.repeat(200))).toEqual([403, 'Error "Cannot charge submit_sm, check RouterPB log file for details"']);
      const balance = await fetch(`${quota.url}/balance?username=q&password=p`);
      expect(await balance.text()).toBe('{"balance": "ND", "sms_count": 1}');
    } finally {
      await quota.close();
    }
  });
});
