import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHILDREN_PER_RUN, type groupFanout } from '../../workflows/group-fanout';
import { groupProgressQuery, groupWorkflowId, SEARCH_ATTRIBUTES, type GroupProgress } from '../../workflows/definitions';
import { eventually, startStack, type TestStack } from '../support/stack';
import { waitForGroupView, type GroupView } from '../support/group-view';

// Group fan-out on real Temporal + Postgres + the Twilio simulator: pages of
// recipients become messages and child workflows, across continue-as-new runs,
// with pause / resume / cancel applied mid-flight.

const number = (i: number) => `+1555${String(i).padStart(7, '0')}`;
const recipients = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ to: number(from + i) }));

/**
 * 2,500 recipients: full runs of CHILDREN_PER_RUN children chained by continue-as-new, and a
 * last short one (about 150 s on two quiet cores). `GROUP_TEST_RECIPIENTS` sizes it: 5,000 for six
 * runs, fewer for a quick local run.
 */
const GROUP_SIZE = Number(process.env.GROUP_TEST_RECIPIENTS ?? 2500);

describe('group fan-out', () => {
  let stack: TestStack;
  let channelId: string;

  beforeAll(async () => {
    stack = await startStack({ logLevel: 'warn' });
    // A rate high enough that the shared limiter never makes these tests wait.
    channelId = await stack.createSmsChannel({ name: 'group sms', rate_limit_per_second: 10_000 });
  });
  afterAll(async () => {
    await stack?.close();
  });
  // A failed test must not leave thousands of sends running under the next one.
  const created: string[] = [];
  afterEach(async () => {
    for (const id of created.splice(0)) await call('POST', `/${id}/cancel`).catch(() => undefined);
  });

  const call = async (method: string, path: string, body?: unknown, opts: { apiKey?: string; contentType?: string; headers?: Record<string, string> } = {}) => {
    // These tests are of the per-message mode (a workflow per recipient); batched groups have their own file.
    if (method === 'POST' && path === '' && typeof body === 'object' && body !== null && !('mode' in body)) body = { ...body, mode: 'per_message' };
    const res = await fetch(`${stack.apiUrl}/v1/group-messages${path}`, {
      method,
      headers: {
        authorization: `Bearer ${opts.apiKey ?? stack.apiKey}`,
        ...(body !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {}),
        ...opts.headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (method === 'POST' && path === '' && typeof json.id === 'string') created.push(json.id);
    return { status: res.status, body: json, headers: res.headers };
  };
  const getGroup = async (id: string) => (await call('GET', `/${id}`)).body as GroupView;
  const waitForGroup = (id: string, done: (g: GroupView) => boolean, timeoutMs = 120_000) => waitForGroupView(getGroup, id, done, timeoutMs);
  const progress = (id: string) => stack.temporal.workflow.getHandle(groupWorkflowId(id)).query(groupProgressQuery);
  const waitForProgress = (id: string, done: (p: GroupProgress) => boolean) =>
    eventually(
      async () => {
        const p = await progress(id);
        return done(p) ? p : undefined;
      },
      120_000,
      200,
    );
  const childCount = async (id: string) =>
    (await stack.temporal.workflow.count(`${SEARCH_ATTRIBUTES.groupMessageId.name} = "${id}" AND WorkflowType = "dispatchMessage"`)).count;
  const messageRows = async (id: string) =>
    (
      await stack.database.pool.query<{ status: string; n: string }>(
        'SELECT status, count(*)::text AS n FROM messages WHERE group_message_id = $1 GROUP BY status',
        [id],
      )
    ).rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.status]: Number(r.n) }), {});
  const bodiesTo = (to: string) => stack.twilio.requests.filter((r) => r.form.To === to).map((r) => r.form.Body);

  it(`fans ${GROUP_SIZE} recipients out to delivered messages in runs under 10,000 events, pausing and resuming mid-flight`, async () => {
    const t0 = Date.now();
    const created = await call('POST', '', { channel_id: channelId, body: 'Sale starts now', recipients: recipients(GROUP_SIZE, 100_000) });
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    expect(created.body).toMatchObject({ status: 'running', total: GROUP_SIZE, workflow_id: `group-${id}` });
    expect(created.body.trace_id).toMatch(/^[0-9a-f]{32}$/);

    // Pause mid-flight: the number of started children stops growing.
    await waitForProgress(id, (p) => p.started >= Math.min(1000, GROUP_SIZE / 5));
    expect((await call('POST', `/${id}/pause`)).status).toBe(202);
    const paused = await waitForGroup(id, (g) => g.status === 'paused', 30_000);
    const atPause = await progress(id);
    expect(atPause.state).toBe('paused');
    expect(atPause.started).toBeLessThan(GROUP_SIZE);
    expect(paused.progress.started).toBe(atPause.started);
    const settled = await eventually(async () => ((await childCount(id)) === atPause.started ? true : undefined), 10_000, 200);
    expect(settled).toBe(true);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await progress(id)).started).toBe(atPause.started);
    expect(await childCount(id)).toBe(atPause.started);
    // Every message that exists is started: none waits half-made for the outbox sweeper while paused.
    const rows = await stack.database.pool.query<{ started: string; unstarted: string }>(
      `SELECT count(*) FILTER (WHERE workflow_started_at IS NOT NULL)::text AS started,
                count(*) FILTER (WHERE workflow_started_at IS NULL)::text AS unstarted
         FROM messages WHERE group_message_id = $1`,
      [id],
    );
    expect(rows.rows[0]).toEqual({ started: String(atPause.started), unstarted: '0' });
    expect(await getGroup(id)).toMatchObject({
      remaining: GROUP_SIZE - atPause.started,
      progress: { materialized: atPause.started, started: atPause.started },
    });

    expect((await call('POST', `/${id}/resume`)).status).toBe(202);
    await waitForGroup(id, (g) => g.status === 'completed', 600_000);
    const done = await waitForGroup(id, (g) => g.delivered === GROUP_SIZE, 300_000);
    expect(done).toMatchObject({
      total: GROUP_SIZE,
      queued: 0,
      sending: 0,
      sent: 0,
      failed: 0,
      undelivered: 0,
      remaining: 0,
      progress: { materialized: GROUP_SIZE, started: GROUP_SIZE },
    });
    expect(await messageRows(id)).toEqual({ delivered: GROUP_SIZE });
    expect(await childCount(id)).toBe(GROUP_SIZE);
    expect(new Set(stack.twilio.requests.filter((r) => r.form.Body === 'Sale starts now').map((r) => r.form.To)).size).toBe(GROUP_SIZE);

    // Every run of group-<id>, following the continue-as-new chain.
    const final = await stack.temporal.workflow.getHandle<typeof groupFanout>(groupWorkflowId(id)).result();
    const runs = await eventually(
      async () => {
        const found: Array<{ runId: string; events: number; status: string }> = [];
        for await (const wf of stack.temporal.workflow.list({ query: `WorkflowId = "group-${id}"` })) {
          const history = await stack.temporal.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
          found.push({ runId: wf.runId, events: history.events?.length ?? 0, status: wf.status.name });
        }
        return found.length === final.runs && found.some((r) => r.status === 'COMPLETED') ? found : undefined;
      },
      20_000,
      500,
    );
    expect(runs.length).toBeGreaterThanOrEqual(Math.ceil(GROUP_SIZE / CHILDREN_PER_RUN));
    expect(runs.filter((r) => r.status === 'COMPLETED')).toHaveLength(1);
    expect(runs.filter((r) => r.status === 'CONTINUED_AS_NEW')).toHaveLength(runs.length - 1);
    for (const run of runs) expect(run.events).toBeLessThan(10_000);
    expect(final).toMatchObject({ state: 'completed', started: GROUP_SIZE });
    process.stdout.write(
      `${GROUP_SIZE}-recipient group: ${((Date.now() - t0) / 1000).toFixed(1)} s to all delivered (incl. ~2 s paused); ` +
        `${runs.length} runs, events per run max ${Math.max(...runs.map((r) => r.events))}\n`,
    );

    // A child reads like any message in the Web UI, tagged with its group.
    const [child] = (await stack.database.pool.query<{ id: string }>('SELECT id FROM messages WHERE group_message_id = $1 LIMIT 1', [id])).rows;
    const desc = await stack.temporal.workflow.getHandle(`message-${child?.id}`).describe();
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.groupMessageId)).toBe(id);
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.messageStatus)).toBe('delivered');
    expect(await desc.staticSummary()).toMatch(/^sms to \+155\*\*\*\d\d$/);
  }, 900_000);

  it('cancel mid-flight: status cancelled, the rest never sent, every started message finishes', async () => {
    const created = await call('POST', '', { channel_id: channelId, body: 'Cancelled promo', recipients: recipients(2000, 200_000) });
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    await waitForProgress(id, (p) => p.started >= 300);
    expect((await call('POST', `/${id}/cancel`)).status).toBe(202);
    const cancelled = await waitForGroup(id, (g) => g.status === 'cancelled', 30_000);
    const result = await stack.temporal.workflow.getHandle<typeof groupFanout>(groupWorkflowId(id)).result();
    expect(result.state).toBe('cancelled');
    expect(result.started).toBeLessThan(2000);
    expect(cancelled.progress.started).toBe(result.started);

    // Exactly the started messages exist, and each reaches a terminal status.
    const finished = await waitForGroup(id, (g) => g.delivered === result.started, 60_000);
    expect(finished).toMatchObject({ total: 2000, queued: 0, sending: 0, sent: 0, failed: 0, remaining: 2000 - result.started });
    expect(await messageRows(id)).toEqual({ delivered: result.started });
    expect(stack.twilio.requests.filter((r) => r.form.Body === 'Cancelled promo')).toHaveLength(result.started);
    expect((await call('POST', `/${id}/resume`)).status).toBe(409);
  }, 120_000);

  it('substitutes {{variables}} per recipient; a repeated Idempotency-Key creates nothing twice', async () => {
    const request = {
      channel_id: channelId,
      body: 'Hello {{name}}, your code is {{ code }}',
      recipients: [
        { to: number(1), variables: { name: 'Ada', code: '1815' } },
        { to: number(2), variables: { name: 'Grace', code: 1906 } },
        { to: number(3), variables: { name: '{{code}}', code: 'x' } },
      ],
      metadata: { campaign: 'spring' },
    };
    const headers = { 'idempotency-key': `group-vars-${Date.now()}` };
    const created = await call('POST', '', request, { headers });
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    const repeated = await call('POST', '', request, { headers });
    expect(repeated).toMatchObject({ status: 202, body: created.body });
    expect(repeated.headers.get('idempotent-replayed')).toBe('true');
    await waitForGroup(id, (g) => g.delivered === 3, 30_000);
    expect(bodiesTo(number(1))).toEqual(['Hello Ada, your code is 1815']);
    expect(bodiesTo(number(2))).toEqual(['Hello Grace, your code is 1906']);
    // A value is text: placeholders inside it are not expanded again.
    expect(bodiesTo(number(3))).toEqual(['Hello {{code}}, your code is x']);
    const view = await getGroup(id);
    expect(view).toMatchObject({ metadata: { campaign: 'spring' }, trace_id: created.body.trace_id });
  });

  it('builds a draft from CSV and JSON appends, then starts it', async () => {
    const draft = await call('POST', '', { channel_id: channelId, body: 'Hi {{first}}, {{note}}', draft: true });
    expect(draft.status).toBe(201);
    expect(draft.body).toMatchObject({ status: 'draft', total: 0 });
    const id = draft.body.id as string;

    const csv = ['to,first,note', `${number(11)},Ada,"welcome, friend"`, '', `${number(12)},"Grace ""Amazing""","two\r\nlines"`].join('\r\n');
    const appended = await call('POST', `/${id}/recipients`, csv, { contentType: 'text/csv' });
    expect({ status: appended.status, body: appended.body }).toEqual({ status: 200, body: { id, status: 'draft', total: 2, added: 2 } });
    const json = await call('POST', `/${id}/recipients`, { recipients: [{ to: number(13), variables: { first: 'Linus', note: 'hi' } }] });
    expect(json.body).toMatchObject({ total: 3, added: 1 });
    const badCsv = await call('POST', `/${id}/recipients`, `to,first,note\n${number(14)},x,y\n0712345678,a,b\n`, { contentType: 'text/csv' });
    expect(badCsv.status).toBe(400);
    expect(badCsv.body).toMatchObject({ field: 'recipients[1].to' });
    expect(badCsv.body.message).toContain('CSV line 3');
    const missingColumn = await call('POST', `/${id}/recipients`, `to,first\n${number(15)},x\n`, { contentType: 'text/csv' });
    expect(missingColumn.body).toMatchObject({ field: 'recipients[0].variables.note' });
    // Lines count from where a record starts, past a quoted line break; an unclosed quote names its record's line.
    const unclosed = await call('POST', `/${id}/recipients`, `to,first,note\r\n${number(17)},"a\nb",c\r\n${number(18)},"x,y\n`, { contentType: 'text/csv' });
    expect({ status: unclosed.status, message: unclosed.body.message }).toEqual({ status: 400, message: 'CSV line 4: a quoted field is not closed' });

    const started = await call('POST', `/${id}/start`);
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ id, status: 'running', total: 3 });
    expect((await call('POST', `/${id}/recipients`, { recipients: [{ to: number(16), variables: { first: 'a', note: 'b' } }] })).status).toBe(409);
    await waitForGroup(id, (g) => g.delivered === 3, 30_000);
    expect(bodiesTo(number(11))).toEqual(['Hi Ada, welcome, friend']);
    expect(bodiesTo(number(12))).toEqual(['Hi Grace "Amazing", two\r\nlines']);
    expect(bodiesTo(number(13))).toEqual(['Hi Linus, hi']);
    expect(bodiesTo(number(14))).toEqual([]);
    expect((await getGroup(id)).total).toBe(3);
  });

  describe('bad input', () => {
    it('names the bad recipient: recipients[3].to', async () => {
      const groupsOfAccount = async () =>
        Number(
          (await stack.database.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM group_messages WHERE account_id = $1', [stack.accountId])).rows[0]
            ?.n,
        );
      const before = await groupsOfAccount();
      const list = [...recipients(3, 300), { to: '0712345678' }, ...recipients(2, 310)];
      const res = await call('POST', '', { channel_id: channelId, body: 'x', recipients: list });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'validation_failed', field: 'recipients[3].to' });
      const missingVar = await call('POST', '', {
        channel_id: channelId,
        body: 'Hi {{name}}',
        recipients: [{ to: number(1), variables: { name: 'a' } }, { to: number(2) }],
      });
      expect(missingVar.body).toMatchObject({ field: 'recipients[1].variables.name' });
      const extra = await call('POST', '', { channel_id: channelId, body: 'x', recipients: [{ to: number(1), name: 'a' }] });
      expect(extra.body).toMatchObject({ field: 'recipients[0].name' });
      const none = await call('POST', '', { channel_id: channelId, body: 'x', recipients: [] });
      expect(none.body).toMatchObject({ field: 'recipients' });
      const tooMany = await call('POST', '', { channel_id: channelId, body: 'x', recipients: recipients(10_001) });
      expect(tooMany).toMatchObject({ status: 400, body: { field: 'recipients' } });
      expect(await groupsOfAccount()).toBe(before);
    });

    it("answers 404 for another account's group and channel", async () => {
      const draft = await call('POST', '', { channel_id: channelId, body: 'x', draft: true, recipients: recipients(1, 400) });
      const id = draft.body.id as string;
      const other = await stack.newAccount('other');
      const as = { apiKey: other.apiKey };
      expect((await call('GET', `/${id}`, undefined, as)).status).toBe(404);
      expect((await call('POST', `/${id}/recipients`, { recipients: recipients(1, 401) }, as)).status).toBe(404);
      expect((await call('POST', `/${id}/start`, undefined, as)).status).toBe(404);
      expect((await call('POST', `/${id}/cancel`, undefined, as)).status).toBe(404);
      expect((await call('POST', '', { channel_id: channelId, body: 'x', recipients: recipients(1) }, as)).status).toBe(404);
      expect((await call('GET', '/not-a-uuid')).status).toBe(404);
      expect((await getGroup(id)).status).toBe('draft');
      // A draft is cancelled in place: it has no workflow.
      expect((await call('POST', `/${id}/cancel`)).body).toMatchObject({ status: 'cancelled' });
      expect((await call('POST', `/${id}/start`)).status).toBe(409);
    });
  });
});
