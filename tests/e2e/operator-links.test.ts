import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startStack, type TestStack } from '../support/stack';

// What an operator follows from an API answer: links into the Temporal Web UI for messages,
// lists and groups, and the account's channels listed a page at a time.

const UI = 'http://127.0.0.1:8233';

describe('links into the Temporal Web UI and the channel list', () => {
  let stack: TestStack;
  let channelId: string;

  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_UI_URL: `${UI}/`, TEMPORAL_NAMESPACE: 'default' } });
    channelId = await stack.createSmsChannel();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const call = async (path: string, init: { method?: string; body?: unknown; apiKey?: string } = {}) => {
    const res = await fetch(`${stack.apiUrl}/v1${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${init.apiKey ?? stack.apiKey}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const linkOf = (body: Record<string, unknown>) => (body.links as { temporal_ui: string | null } | undefined)?.temporal_ui;

  it("a message links to its workflow's page, from its creation answer, its GET and the list", async () => {
    const sent = await stack.sendMessage({ channel_id: channelId, to: '+15551230001', body: 'linked' });
    expect(sent.status).toBe(202);
    const id = sent.body.id as string;
    const page = `${UI}/namespaces/default/workflows/message-${id}`;
    expect(linkOf(sent.body)).toBe(page);
    const delivered = await stack.waitForStatus(id, 'delivered');
    expect(linkOf(delivered)).toBe(page);
    expect(delivered.replays).toBe(0);

    const list = await call(`/messages?channel_id=${channelId}&limit=5`);
    expect((list.body.items as Array<Record<string, unknown>>).find((m) => m.id === id)).toMatchObject({ links: { temporal_ui: page } });
  });

  it("a failed list links to the UI's Failed filter for the account and channel; other statuses to MessageStatus", async () => {
    const failed = await call(`/messages?status=failed&channel_id=${channelId}`);
    const url = new URL(linkOf(failed.body) ?? '');
    expect(`${url.origin}${url.pathname}`).toBe(`${UI}/namespaces/default/workflows`);
    expect(url.searchParams.get('query')).toBe(
      `AccountId="${stack.accountId}" AND WorkflowType="dispatchMessage" AND ChannelId="${channelId}" AND ExecutionStatus="Failed"`,
    );
    const undelivered = new URL(linkOf((await call('/messages?status=undelivered')).body) ?? '');
    expect(undelivered.searchParams.get('query')).toBe(`AccountId="${stack.accountId}" AND WorkflowType="dispatchMessage" AND MessageStatus="undelivered"`);
  });

  it("a group links to its fan-out workflow, and a batched recipient to the group's workflow", async () => {
    const created = await call('/group-messages', {
      method: 'POST',
      body: { channel_id: channelId, body: 'group link', recipients: [{ to: '+15551230002' }, { to: '+15551230003' }] },
    });
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    const page = `${UI}/namespaces/default/workflows/group-${id}`;
    expect(linkOf(created.body)).toBe(page);
    const done = await eventually(async () => {
      const g = await call(`/group-messages/${id}`);
      return g.body.delivered === 2 ? g.body : undefined;
    }, 60_000);
    expect(linkOf(done)).toBe(page);
    const recipients = (await call(`/messages?group_message_id=${id}`)).body.items as Array<Record<string, unknown>>;
    expect(recipients).toHaveLength(2);
    // Batched rows have no workflow of their own: their send is an activity of the group's.
    for (const m of recipients) expect(m).toMatchObject({ workflow_id: null, links: { temporal_ui: page } });
  });

  it('lists the channels of the key’s account only, in pages that join up, with clear errors', async () => {
    const other = await stack.newAccount('other tenant');
    const otherChannel = await stack.createSmsChannel({ apiKey: other.apiKey });
    const mine = [channelId];
    for (let i = 0; i < 4; i++) mine.push(await stack.createSmsChannel());

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await call(`/channels?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      const items = page.body.items as Array<Record<string, unknown>>;
      expect(items.length).toBeLessThanOrEqual(2);
      for (const c of items) {
        expect(c).not.toHaveProperty('credentials');
        expect(c).not.toHaveProperty('webhook_secret');
        seen.push(c.id as string);
      }
      cursor = page.body.next_cursor as string | null;
      pages++;
    } while (cursor && pages < 20);
    expect(seen).toEqual([...mine].sort());
    expect(pages).toBe(3);
    expect(seen).not.toContain(otherChannel);

    const theirs = await call('/channels', { apiKey: other.apiKey });
    expect((theirs.body.items as Array<{ id: string }>).map((c) => c.id)).toEqual([otherChannel]);
    expect((await call('/channels?channel_type=email')).body.items).toEqual([]);

    expect(await call('/channels?limit=0')).toMatchObject({ status: 400, body: { field: 'limit' } });
    expect(await call('/channels?cursor=bm90LWEtaWQ')).toMatchObject({ status: 400, body: { field: 'cursor' } });
    expect((await call('/channels?channel_type=fax')).status).toBe(400);
  });
});

describe('without TEMPORAL_UI_URL', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('links are null rather than pointing nowhere', async () => {
    const channelId = await stack.createSmsChannel();
    const sent = await stack.sendMessage({ channel_id: channelId, to: '+15551230009', body: 'no ui' });
    expect(sent.body).toMatchObject({ links: { temporal_ui: null } });
    expect((await stack.getMessage(sent.body.id ?? '')).body).toMatchObject({ links: { temporal_ui: null } });
  });
});
