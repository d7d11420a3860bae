import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginGroup } from '../../db/groups';
import { startSmtpSink, type SmtpSink } from '../../sandbox/email/server';
import { DISPATCH_TASK_QUEUE, groupProgressQuery, groupWorkflowId } from '../../workflows/definitions';
import type { sweepOutboxWorkflow } from '../../workflows/outbox-sweeper';
import { eventually, startStack, type TestStack } from '../support/stack';
import { waitForGroupView, type GroupView } from '../support/group-view';

// A group's content is stored once and rendered per recipient at the send; a group whose
// fan-out was interrupted is finished by the sweeper. Real Temporal, Postgres, an SMTP
// server and the Twilio simulator.

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const number = (i: number) => `+1555${String(i).padStart(7, '0')}`;

describe('group hardening', () => {
  let stack: TestStack;
  let sink: SmtpSink;

  beforeAll(async () => {
    stack = await startStack({ logLevel: 'warn' });
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await stack?.close();
    await sink?.close();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    // The per-message mode's hardening; batched groups have their own file.
    if (method === 'POST' && path === '/group-messages' && typeof body === 'object' && body !== null && !('mode' in body))
      body = { ...body, mode: 'per_message' };
    const res = await fetch(`${stack.apiUrl}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${stack.apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const getGroup = async (id: string) => (await call('GET', `/group-messages/${id}`)).body as GroupView;
  const waitForGroup = (id: string, done: (g: GroupView) => boolean, timeoutMs: number) => waitForGroupView(getGroup, id, done, timeoutMs);
  const sweep = (name: string) =>
    stack.temporal.workflow.execute<typeof sweepOutboxWorkflow>('sweepOutboxWorkflow', {
      taskQueue: DISPATCH_TASK_QUEUE,
      workflowId: `sweep-${name}-${Date.now()}`,
      args: [{ olderThanSeconds: 0, limit: 500 }],
    });
  const messagesOf = async (groupId: string) =>
    (
      await stack.database.pool.query<{ id: string; to_address: string; status: string; error_code: string | null }>(
        'SELECT id, to_address, status, error_code FROM messages WHERE group_message_id = $1 ORDER BY group_seq',
        [groupId],
      )
    ).rows;

  describe('content stored once (#17.6)', () => {
    it('a group of large HTML writes its content once, each recipient receives its own rendering, and only the over-limit recipient fails', async () => {
      const channel = await stack.createChannel({
        channel_type: 'email',
        name: 'newsletter',
        rate_limit_per_second: 1000,
        credentials: { host: sink.host, port: String(sink.port), from_address: 'news@turumba.test', tls_reject_unauthorized: 'false' },
      });
      // 3,000 paragraphs, each naming the recipient: over 200 KB of HTML.
      const html = `<html><body>${Array.from({ length: 3000 }, (_, i) => `<p>Dear {{name}}, line ${i} of the spring catalogue, prices inside.</p>`).join('')}</body></html>`;
      expect(html.length).toBeGreaterThan(200_000);
      const content = { subject: 'Spring sale for {{first}}', body: 'Hi {{first}}, the sale starts now.', html };
      const names = Array.from({ length: 40 }, (_, i) => `Ada ${i} & <Co>`);
      const good = names.map((name, i) => ({ to: `reader${i}@example.test`, variables: { first: name, name } }));
      // 1,024 characters that each escape to five in HTML, 3,000 times: about 15 MB rendered, over the 1 MiB html limit.
      const huge = { to: 'huge@example.test', variables: { first: 'Zed', name: '&'.repeat(1024) } };
      const created = await call('POST', '/group-messages', {
        channel_id: channel.id,
        ...content,
        recipients: [...good.slice(0, 20), huge, ...good.slice(20)],
      });
      expect(created.status).toBe(202);
      const id = created.body.id as string;

      const done = await waitForGroup(id, (g) => g.status === 'completed' && g.sent + g.delivered === 40 && g.failed === 1, 180_000);
      expect(done).toMatchObject({ total: 41, queued: 0, remaining: 0 });

      // The content is on the group row once; no recipient's row carries a copy.
      const stored = await stack.database.pool.query<{ html: number }>('SELECT octet_length(html) AS html FROM group_messages WHERE id = $1', [id]);
      expect(stored.rows[0]?.html).toBe(html.length);
      const rows = await stack.database.pool.query<{ n: string; with_content: string; widest: number; total: string }>(
        `SELECT count(*)::text AS n,
                count(*) FILTER (WHERE body IS NOT NULL OR subject IS NOT NULL OR html IS NOT NULL OR template IS NOT NULL)::text AS with_content,
                max(pg_column_size(m.*)) AS widest, sum(pg_column_size(m.*))::text AS total
         FROM messages m WHERE group_message_id = $1`,
        [id],
      );
      expect(rows.rows[0]).toMatchObject({ n: '41', with_content: '0' });
      expect(rows.rows[0]?.widest).toBeLessThan(2048);
      expect(Number(rows.rows[0]?.total)).toBeLessThan(41 * 2048);

      // Each recipient got exactly one mail, rendered for it: subject and text as given, the name escaped in HTML.
      for (const [i, name] of names.entries()) {
        // A provider call a busy worker repeats within the message's run carries the same message id.
        const mails = sink.receivedFor(`reader${i}@example.test`);
        expect(mails.length).toBeGreaterThanOrEqual(1);
        expect(new Set(mails.map((m) => m.parsed.headers.get('x-turumba-message-id'))).size).toBe(1);
        for (const mail of mails) {
          expect(mail.parsed.subject).toBe(`Spring sale for ${name}`);
          expect(mail.parsed.html).toBe(html.replaceAll('{{name}}', escapeHtml(name)));
          expect(mail.parsed.text?.trim()).toBe(`Hi ${name}, the sale starts now.`);
        }
      }
      expect(sink.receivedFor('huge@example.test')).toEqual([]);

      // Only the over-limit recipient failed, permanently, with its own code.
      const messages = await messagesOf(id);
      const failed = messages.filter((m) => m.status === 'failed');
      expect(failed.map((m) => ({ to: m.to_address, code: m.error_code }))).toEqual([{ to: 'huge@example.test', code: 'content_too_large' }]);
      const failedView = await stack.getMessage(failed[0]?.id ?? '');
      expect(failedView.body.error?.code).toBe('content_too_large');
      expect(failedView.body.error?.message).toMatch(/^rendered html is \d+ characters, over the limit of 1048576$/);

      // The API shows a recipient's message with its content rendered for it, alone and in a list.
      const first = messages.find((m) => m.to_address === 'reader0@example.test');
      const view = await stack.getMessage(first?.id ?? '');
      expect(view.body).toMatchObject({
        to: 'reader0@example.test',
        subject: `Spring sale for ${names[0]}`,
        body: `Hi ${names[0]}, the sale starts now.`,
        group_message_id: id,
      });
      const list = await call('GET', `/messages?channel_id=${channel.id}&limit=100`);
      const items = list.body.items as Array<{ to: string; subject: string; body: string }>;
      expect(items).toHaveLength(41);
      for (const item of items.filter((x) => x.to.startsWith('reader'))) {
        const name = names[Number(item.to.slice('reader'.length, item.to.indexOf('@')))];
        expect(item).toMatchObject({ subject: `Spring sale for ${name}`, body: `Hi ${name}, the sale starts now.` });
      }
    }, 240_000);

    it('bounds the request: over 10,000 recipients is a 400 naming recipients, a body over 16 MiB a 413 naming body', async () => {
      const channelId = await stack.createSmsChannel();
      const many = await call('POST', '/group-messages', {
        channel_id: channelId,
        body: 'x',
        recipients: Array.from({ length: 10_001 }, (_, i) => ({ to: number(i) })),
      });
      expect(many).toMatchObject({ status: 400, body: { error: 'validation_failed', field: 'recipients' } });
      const big = await call(
        'POST',
        '/group-messages',
        JSON.stringify({ channel_id: channelId, body: 'x', metadata: { pad: 'x'.repeat(16 * 1024 * 1024) }, recipients: [{ to: number(1) }] }),
      );
      expect(big).toMatchObject({ status: 413, body: { error: 'body_too_large', field: 'body' } });
    });
  });

  describe('interrupted groups are finished by the sweeper (#17.7)', () => {
    let channelId: string;
    beforeAll(async () => {
      channelId = await stack.createSmsChannel({ name: 'sweep sms', rate_limit_per_second: 10_000 });
    });
    const sentTo = (body: string) => stack.twilio.requests.filter((r) => r.form.Body === body).map((r) => r.form.To);

    it('a terminated fan-out is restarted from its cursor: the group completes, every recipient delivered, none sent twice', async () => {
      const total = 300;
      const body = 'Terminated promo';
      const created = await call('POST', '/group-messages', {
        channel_id: channelId,
        body,
        recipients: Array.from({ length: total }, (_, i) => ({ to: number(500_000 + i) })),
      });
      expect(created.status).toBe(202);
      const id = created.body.id as string;
      const handle = stack.temporal.workflow.getHandle(groupWorkflowId(id));
      await eventually(async () => ((await handle.query(groupProgressQuery)).started >= 50 ? true : undefined), 120_000, 100);
      const first = await handle.describe();
      await handle.terminate('test: the fan-out is interrupted');

      // Interrupted: the row still says running, and recipients are left without a message or queued.
      const stuck = await getGroup(id);
      expect(stuck.status).toBe('running');
      expect(stuck.remaining + stuck.queued).toBeGreaterThan(0);
      const cursor = (await stack.database.pool.query<{ cursor: number }>('SELECT cursor FROM group_messages WHERE id = $1', [id])).rows[0]?.cursor ?? 0;

      const swept = await sweep('terminated');
      expect(swept.groupsRestarted).toBeGreaterThanOrEqual(1);
      const restart = stack.logs.find((l) => l.event === 'group_fanout_restarted' && l.group_message_id === id);
      expect(restart).toMatchObject({ reason: 'run_closed', closed_status: 'TERMINATED' });
      expect(Number(restart?.cursor)).toBeGreaterThanOrEqual(cursor);
      const second = await handle.describe();
      expect(second.runId).not.toBe(first.runId);

      const done = await waitForGroup(id, (g) => g.status === 'completed' && g.delivered === total, 240_000);
      expect(done).toMatchObject({ total, delivered: total, queued: 0, failed: 0, remaining: 0 });
      const messages = await messagesOf(id);
      expect(messages).toHaveLength(total);
      expect(new Set(messages.map((m) => m.status))).toEqual(new Set(['delivered']));
      // Each recipient has one message and one run of it, over both fan-out runs: the simulator saw every
      // recipient, and each only for its one message (a provider call a busy worker repeats within
      // a run is that run's retry, and carries the same message id).
      const requests = stack.twilio.requests.filter((r) => r.form.Body === body);
      expect(new Set(requests.map((r) => r.form.To)).size).toBe(total);
      const idsByTo = new Map<string, Set<string>>();
      for (const r of requests) {
        const to = r.form.To ?? '';
        idsByTo.set(to, (idsByTo.get(to) ?? new Set()).add(new URL(r.form.StatusCallback ?? '').searchParams.get('message_id') ?? ''));
      }
      for (const [to, ids] of idsByTo) expect({ to, ids: [...ids] }).toEqual({ to, ids: [messages.find((m) => m.to_address === to)?.id] });
      const runs = await eventually(
        async () => {
          const n = (await stack.temporal.workflow.count(`GroupMessageId = "${id}" AND WorkflowType = "dispatchMessage"`)).count;
          return n >= total ? n : undefined;
        },
        20_000,
        500,
      );
      expect(runs).toBe(total);
      // A second sweep finds nothing to do.
      expect((await sweep('terminated-again')).groupsRestarted).toBe(0);
    }, 400_000);

    it('a group whose fan-out start failed is started by the sweep', async () => {
      const body = 'Start was deferred';
      const draft = await call('POST', '/group-messages', {
        channel_id: channelId,
        body,
        draft: true,
        recipients: Array.from({ length: 5 }, (_, i) => ({ to: number(600_000 + i) })),
      });
      expect(draft.status).toBe(201);
      const id = draft.body.id as string;
      // As the start route leaves it when Temporal refuses the start: running, no workflow.
      expect((await beginGroup(stack.database.db, id))?.status).toBe('running');
      await expect(stack.temporal.workflow.getHandle(groupWorkflowId(id)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

      await sweep('deferred');
      expect(stack.logs.find((l) => l.event === 'group_fanout_restarted' && l.group_message_id === id)).toMatchObject({ reason: 'never_started' });
      const done = await waitForGroup(id, (g) => g.status === 'completed' && g.delivered === 5, 120_000);
      expect(done).toMatchObject({ total: 5, remaining: 0 });
      expect(sentTo(body).sort()).toEqual(Array.from({ length: 5 }, (_, i) => number(600_000 + i)));
      const row = await stack.database.pool.query<{ workflow_started_at: Date | null }>('SELECT workflow_started_at FROM group_messages WHERE id = $1', [id]);
      expect(row.rows[0]?.workflow_started_at).not.toBeNull();
    }, 120_000);
  });
});
