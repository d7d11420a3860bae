import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from '../support/stack';

// Every /v1 route, called with another account's key and this account's ids: 404,
// and nothing of the first account is listed or changed.

describe('tenant isolation on every /v1 route', () => {
  let stack: TestStack;
  let own: { channel: string; message: string; group: string; replay: string };
  let intruderKey: string;

  beforeAll(async () => {
    stack = await startStack();
    const channel = await stack.createSmsChannel();
    const message = (await stack.sendMessage({ channel_id: channel, to: '+15005550001', body: 'mine' })).body.id ?? '';
    await stack.waitForStatus(message, 'failed');
    const auth = { authorization: `Bearer ${stack.apiKey}` };
    const group = await stack.app.inject({
      method: 'POST',
      url: '/v1/group-messages',
      headers: auth,
      payload: { channel_id: channel, body: 'hi {{name}}', recipients: [{ to: '+15551230001', variables: { name: 'Ada' } }], draft: true },
    });
    expect(group.statusCode).toBe(201);
    const replay = await stack.app.inject({
      method: 'POST',
      url: '/v1/replays',
      headers: auth,
      payload: { status: 'failed', channel_id: channel, from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() },
    });
    expect(replay.statusCode).toBe(202);
    own = { channel, message, group: group.json<{ id: string }>().id, replay: replay.json<{ id: string }>().id };
    intruderKey = (await stack.newAccount('intruder')).apiKey;
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers 404 to another account for each route and id', async () => {
    const window = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() };
    const calls: Array<[string, string, unknown?]> = [
      ['GET', `/v1/channels/${own.channel}`],
      ['POST', `/v1/channels/${own.channel}/verify`],
      ['POST', '/v1/messages', { channel_id: own.channel, to: '+15551234567', body: 'x' }],
      ['GET', `/v1/messages/${own.message}`],
      ['GET', `/v1/messages/${own.message}/events`],
      ['POST', `/v1/messages/${own.message}/replay`],
      ['POST', '/v1/replays', { status: 'failed', channel_id: own.channel, ...window }],
      ['GET', `/v1/replays/${own.replay}`],
      ['POST', '/v1/group-messages', { channel_id: own.channel, body: 'x', recipients: [{ to: '+15551234567' }] }],
      ['GET', `/v1/group-messages/${own.group}`],
      ['POST', `/v1/group-messages/${own.group}/recipients`, { recipients: [{ to: '+15551234567' }] }],
      ['POST', `/v1/group-messages/${own.group}/start`],
      ['POST', `/v1/group-messages/${own.group}/pause`],
      ['POST', `/v1/group-messages/${own.group}/resume`],
      ['POST', `/v1/group-messages/${own.group}/cancel`],
    ];
    for (const [method, url, payload] of calls) {
      const res = await stack.app.inject({
        method: method as 'GET' | 'POST',
        url,
        headers: { authorization: `Bearer ${intruderKey}` },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(404);
    }
    const list = await stack.app.inject({ method: 'GET', url: `/v1/messages?channel_id=${own.channel}`, headers: { authorization: `Bearer ${intruderKey}` } });
    expect(list.statusCode).toBe(200);
    expect(list.json<{ items: unknown[] }>().items).toEqual([]);
    // The owner still sees its own message and group.
    expect((await stack.getMessage(own.message)).status).toBe(200);
    const group = await stack.app.inject({ method: 'GET', url: `/v1/group-messages/${own.group}`, headers: { authorization: `Bearer ${stack.apiKey}` } });
    expect(group.statusCode).toBe(200);
  });
});
