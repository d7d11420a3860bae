import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../cli/temporal-dev';
import { runCli } from '../../cli/run';
import { startStack, type TestStack } from '../support/stack';

// The operator CLI in-process (runCli with buffers for stdout and stderr) against the real
// stack, over HTTP with the stack's API key; one test runs the real entry point.

const UI = 'http://127.0.0.1:8233';
const ESC = String.fromCharCode(27);
const has = (text: string) => expect.stringContaining(text) as unknown as string;
const like = (re: RegExp) => expect.stringMatching(re) as unknown as string;
const anyString = expect.any(String) as unknown as string;
/** Scripted by the Twilio simulator: 400 with code 21211, refused for good. */
const INVALID_TO = '+15005550001';

class Capture {
  text = '';
  constructor(readonly isTTY?: boolean) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

interface Run {
  code: number;
  out: string;
  err: string;
}

describe('operator CLI against the API', () => {
  let stack: TestStack;
  let channelId: string;
  let tmp: string;

  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_UI_URL: UI } });
    channelId = await stack.createSmsChannel();
    tmp = mkdtempSync(join(tmpdir(), 'cli-test-'));
  });
  afterAll(async () => {
    await stack?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** DEV_DIR points nowhere, so only what a test passes names the API. */
  const cli = async (args: string[], opts: { tty?: boolean; env?: Record<string, string | undefined> } = {}): Promise<Run> => {
    const stdout = new Capture(opts.tty === true);
    const stderr = new Capture();
    const env = { TURUMBA_API_URL: stack.apiUrl, TURUMBA_API_KEY: stack.apiKey, DEV_DIR: join(tmp, 'none'), ...opts.env };
    const code = await runCli(args, { stdout, stderr, env });
    return { code, out: stdout.text, err: stderr.text };
  };
  const tty = (...args: string[]) => cli(args, { tty: true });
  const parsed = <T>(r: Run): T => {
    expect(r.code, r.err).toBe(0);
    return JSON.parse(r.out) as T;
  };
  const send = async (to: string) => {
    const r = await stack.sendMessage({ channel_id: channelId, to, body: 'Your code is 123456' });
    expect(r.status).toBe(202);
    return r.body.id ?? '';
  };
  const api = async (method: string, path: string, body?: unknown, key = stack.apiKey) => {
    const res = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /** The rows of a table that follows `heading`, split on runs of two spaces or more. */
  const rowsAfter = (text: string, heading: string) => {
    const lines = text
      .slice(text.indexOf(heading) + heading.length)
      .split('\n')
      .filter((l) => l.trim() !== '');
    return lines.map((l) => l.trim().split(/\s{2,}/));
  };

  describe('message show', () => {
    let delivered: string;

    beforeAll(async () => {
      delivered = await send('+15551234567');
      await stack.waitForStatus(delivered, 'delivered');
    });

    it("tells a delivered SMS's story: row, provider id, history in order, Web UI link (table on a TTY)", async () => {
      const r = await tty('message', 'show', delivered);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toBe('');
      const m = (await stack.getMessage(delivered)).body;
      expect(r.out).toContain(`message ${delivered} (outbound)`);
      expect(r.out).toMatch(/^ {2}status\s+delivered$/m);
      expect(r.out).toMatch(new RegExp(`^ {2}channel\\s+sms ${channelId}$`, 'm'));
      expect(r.out).toMatch(/^ {2}to\s+\+15551234567$/m);
      expect(r.out).toMatch(new RegExp(`^ {2}provider id\\s+${m.provider_message_id ?? 'missing'}$`, 'm'));
      expect(m.provider_message_id).toMatch(/^SM[0-9a-f]{32}$/);
      expect(r.out).toMatch(/^ {2}error\s+—$/m);
      expect(r.out).toMatch(new RegExp(`^ {2}trace id\\s+${m.trace_id}$`, 'm'));
      expect(r.out).toMatch(/^ {2}replays\s+0$/m);
      expect(r.out).toMatch(new RegExp(`^ {2}delivered\\s+${m.delivered_at ?? 'missing'}$`, 'm'));
      expect(r.out).toMatch(new RegExp(`^ {2}Web UI\\s+${UI}/namespaces/default/workflows/message-${delivered}$`, 'm'));
      expect(r.out).not.toContain('Your code is');

      const [header, ...rows] = rowsAfter(r.out, 'status history\n');
      expect(header).toEqual(expect.arrayContaining(['OCCURRED AT', 'AFTER', 'STATUS', 'SOURCE', 'ERROR']));
      const status = header?.indexOf('STATUS') ?? -1;
      const shown = rows.map((row) => row[status]);
      expect(shown[0]).toBe('queued');
      expect(shown.at(-1)).toBe('delivered');
      expect(shown).toContain('sent');
      const events = (await api('GET', `/v1/messages/${delivered}/events`)).body.events as Array<{
        status: string;
        occurred_at: string;
        provider_time?: string | null;
      }>;
      expect(shown).toEqual(events.map((e) => e.status));
      expect(rows.map((row) => row[0])).toEqual(events.map((e) => e.occurred_at));
      expect(rows[0]?.[1]).toBe('+0.000s');
      // The provider's own time is a column when any event carries one, and then shows each.
      const providerTimes = events.some((e) => e.provider_time);
      expect(header?.includes('PROVIDER TIME')).toBe(providerTimes);
      if (providerTimes) expect(rows.map((row) => row.at(-1))).toEqual(events.map((e) => e.provider_time ?? '—'));
    });

    it('--json prints the message and its events as the API gives them, in one document', async () => {
      const doc = parsed<{ message: Record<string, unknown>; events: Array<{ status: string }>; error_meaning: string | null }>(
        await cli(['message', 'show', delivered, '--json']),
      );
      expect(doc.message).toEqual((await stack.getMessage(delivered)).body);
      expect(doc.message).toMatchObject({
        id: delivered,
        status: 'delivered',
        links: { temporal_ui: `${UI}/namespaces/default/workflows/message-${delivered}` },
      });
      expect(doc.events.map((e) => e.status)).toEqual(
        ((await api('GET', `/v1/messages/${delivered}/events`)).body.events as Array<{ status: string }>).map((e) => e.status),
      );
      expect(doc.events[0]?.status).toBe('queued');
      expect(doc.error_meaning).toBeNull();
    });

    it("a failed message's error code and its meaning; a replay shows in the count and the history", async () => {
      const failed = await send(INVALID_TO);
      await stack.waitForStatus(failed, 'failed');
      const r = await tty('message', 'show', failed);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/^ {2}status\s+failed$/m);
      expect(r.out).toMatch(/^ {2}error\s+21211 — Twilio: invalid 'To' phone number$/m);
      expect(r.out).toContain('twilio HTTP 400 code 21211');
      const doc = parsed<{ message: { error: { code: string } }; error_meaning: string }>(await cli(['message', 'show', failed, '--json']));
      expect(doc.message.error.code).toBe('21211');
      expect(doc.error_meaning).toBe("Twilio: invalid 'To' phone number");

      expect((await api('POST', `/v1/messages/${failed}/replay`)).status).toBe(202);
      await stack.waitForStatus(failed, 'failed');
      const again = await tty('message', 'show', failed);
      expect(again.out).toMatch(/^ {2}replays\s+1$/m);
      const [header, ...rows] = rowsAfter(again.out, 'status history\n');
      expect(header).toEqual(expect.arrayContaining(['KIND', 'RUN']));
      const kind = header?.indexOf('KIND') ?? -1;
      const run = header?.indexOf('RUN') ?? -1;
      expect(rows.some((row) => row[kind] === 'replay')).toBe(true);
      expect(rows.at(-1)?.[run]).toBe('1');
    });

    it('an error code the catalog does not know prints as (no description)', async () => {
      const failed = await send(INVALID_TO);
      await stack.waitForStatus(failed, 'failed');
      // A code no adapter writes today (one a later provider might): the row is the only place to put it.
      await stack.database.db.execute(sql`UPDATE messages SET error_code = 'zz_not_a_code' WHERE id = ${failed}`);
      const r = await tty('message', 'show', failed);
      expect(r.out).toMatch(/^ {2}error\s+zz_not_a_code — \(no description\)$/m);
      expect(parsed<{ error_meaning: unknown }>(await cli(['message', 'show', failed, '--json'])).error_meaning).toBeNull();
    });

    it('404: another account\'s message and an unknown id are both "not found"', async () => {
      const other = await stack.newAccount('other');
      const theirs = await cli(['message', 'show', delivered], { env: { TURUMBA_API_KEY: other.apiKey } });
      expect(theirs).toEqual({ code: 1, out: '', err: `error: message ${delivered} not found\n` });
      const none = await cli(['message', 'show', '0190a000-0000-7000-8000-000000000000']);
      expect(none).toEqual({ code: 1, out: '', err: 'error: message 0190a000-0000-7000-8000-000000000000 not found\n' });
    });
  });

  describe('messages list', () => {
    let failed: string;

    beforeAll(async () => {
      failed = await send(INVALID_TO);
      await stack.waitForStatus(failed, 'failed');
    });

    it("--status failed --json: the API's page, only failed messages, with the Web UI's failed view", async () => {
      const page = parsed<{
        items: Array<{ id: string; status: string; error: { code: string } }>;
        next_cursor: string | null;
        links: { temporal_ui: string };
      }>(await cli(['messages', 'list', '--status', 'failed', '--channel', channelId, '--since', '1h', '--json']));
      expect(page.items.length).toBeGreaterThan(0);
      expect(page.items.every((m) => m.status === 'failed')).toBe(true);
      expect(page.items.find((m) => m.id === failed)?.error.code).toBe('21211');
      const link = new URL(page.links.temporal_ui);
      expect(`${link.origin}${link.pathname}`).toBe(`${UI}/namespaces/default/workflows`);
      expect(link.searchParams.get('query')).toContain('ExecutionStatus="Failed"');
    });

    it('a table with the next cursor; --cursor reads the next page; the failed view link is printed', async () => {
      const first = await tty('messages', 'list', '--status', 'failed', '--limit', '1');
      expect(first.code, first.err).toBe(0);
      const [header, row] = rowsAfter(first.out, '');
      expect(header).toEqual(['ID', 'CHANNEL', 'TO', 'STATUS', 'ERROR', 'CREATED']);
      expect(row?.slice(1, 5)).toEqual(['sms', like(/^\+/), 'failed', anyString]);
      const cursor = /^next page: --cursor (\S+)$/m.exec(first.out)?.[1];
      expect(cursor).toBeDefined();
      expect(first.out).toMatch(
        /^Web UI \(failed workflows\): http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\?query=.*ExecutionStatus%3D%22Failed%22/m,
      );
      const second = await tty('messages', 'list', '--status', 'failed', '--limit', '1', '--cursor', cursor ?? '');
      expect(second.code, second.err).toBe(0);
      expect(rowsAfter(second.out, '')[1]?.[0]).not.toBe(row?.[0]);

      const delivered = await tty('messages', 'list', '--status', 'delivered', '--limit', '1000');
      expect(delivered.out).not.toContain('Web UI');
      expect(delivered.out).toMatch(/\(last page\)\n$/);
    });

    it("filters that name the wrong thing are usage errors or the API's own words", async () => {
      expect(await cli(['messages', 'list', '--status', 'lost'])).toMatchObject({
        code: 2,
        err: has('--status must be one of queued, sending, sent, delivered, read, undelivered, failed, not "lost"'),
      });
      expect(await cli(['messages', 'list', '--since', 'yesterday-ish'])).toMatchObject({ code: 2, err: has('--since is not a date') });
      expect(await cli(['messages', 'list', '--limit', '0'])).toMatchObject({ code: 2, err: has('--limit must be a whole number from 1 to 1000') });
      const r = await cli(['messages', 'list', '--channel', 'not-a-channel']);
      expect(r).toEqual({ code: 1, out: '', err: 'error: the API refused the request (400 validation_failed): channel_id: is not a channel id\n' });
      const cursor = await cli(['messages', 'list', '--cursor', 'garbage']);
      expect(cursor.code).toBe(1);
      expect(cursor.err).toMatch(/^error: the API refused the request \(400 validation_failed\): cursor: /);
    });
  });

  it('group show --watch redraws until a small group completes; the bar reaches 100 %', async () => {
    const recipients = ['+15552000001', '+15552000002', '+15552000003'].map((to) => ({ to }));
    const created = await api('POST', '/v1/group-messages', { channel_id: channelId, body: 'Hello all', recipients });
    expect(created.status).toBe(202);
    const id = String(created.body.id);

    const watched = await tty('group', 'show', id, '--watch', '--interval-ms', '200');
    expect(watched.code, watched.err).toBe(0);
    // [frame, lines up, frame, lines up, frame…]: each redraw moves up exactly the lines of the frame before it.
    const parts = watched.out.split(new RegExp(`${ESC}\\[(\\d+)A${ESC}\\[J`));
    const frames = parts.filter((_, i) => i % 2 === 0);
    parts.forEach((p, i) => {
      if (i % 2 === 1) expect(Number(p)).toBe((parts[i - 1] ?? '').split('\n').length - 1);
    });
    const last = frames.at(-1) ?? '';
    expect(last).toMatch(new RegExp(`^group ${id} {2}sms · batched · completed\n`));
    expect(last).toContain('[##############################] 100 %  3 of 3 sent or ended');
    expect(last).toMatch(/queued 0 · sending 0 · sent \d · delivered \d · read 0 · undelivered 0 · failed 0\n/);
    expect(last).toMatch(new RegExp(`^ {2}Web UI\\s+${UI}/namespaces/default/workflows/group-${id}$`, 'm'));
    expect(frames.length).toBeGreaterThan(1);

    const view = parsed<{ status: string; total: number; delivered: number; sent: number; links: { temporal_ui: string } }>(
      await cli(['group', 'show', id, '--json']),
    );
    expect(view).toMatchObject({ id, status: 'completed', total: 3, links: { temporal_ui: `${UI}/namespaces/default/workflows/group-${id}` } });
    expect(view.delivered + view.sent).toBe(3);
    // Not a terminal: one frame, no cursor movement; --watch --json prints only the final view.
    const plain = await cli(['group', 'show', id]);
    expect(plain.out).not.toContain(ESC);
    expect(plain.out).toContain('100 %');
    const final = parsed<{ status: string }>(await cli(['group', 'show', id, '--watch', '--json']));
    expect(final.status).toBe('completed');
    expect(await cli(['group', 'show', '0190a000-0000-7000-8000-000000000000'])).toMatchObject({
      code: 1,
      err: 'error: group 0190a000-0000-7000-8000-000000000000 not found\n',
    });
  });

  describe('channels', () => {
    it('create prints id, webhook URL and the secret once; list follows every page; verify passes good credentials', async () => {
      const { apiKey } = await stack.newAccount('channels');
      const env = { TURUMBA_API_KEY: apiKey };
      const flags = Object.entries(stack.twilioCredentials).flatMap(([k, v]) => ['--credential', `${k}=${v}`]);
      const made = await cli(['channel', 'create', '--type', 'sms', '--provider', 'twilio', '--name', 'cli sms', '--rate-limit', '5', ...flags], {
        tty: true,
        env,
      });
      expect(made.code, made.err).toBe(0);
      const id = /^channel (\S+) created \(sms\/twilio, "cli sms"\)$/m.exec(made.out)?.[1] ?? '';
      const stored = await api('GET', `/v1/channels/${id}`, undefined, apiKey);
      expect(stored.status).toBe(200);
      expect(made.out).toMatch(new RegExp(`^ {2}webhook_url\\s+${stored.body.webhook_url as string}$`, 'm'));
      expect(made.out).toMatch(/^ {2}webhook_secret\s+[\w-]{32}$/m);
      expect(made.out).toContain('shown once');
      expect(made.out).not.toContain(stack.twilioCredentials.api_secret);
      expect(stored.body.rate_limit_per_second).toBe(5);

      const file = join(tmp, 'creds.json');
      writeFileSync(file, JSON.stringify({ ...stack.twilioCredentials, api_secret: 'not-the-secret' }));
      const second = parsed<{ id: string; webhook_secret: string; channel_type: string }>(
        await cli(['channel', 'create', '--type', 'sms', '--provider', 'twilio', '--name', 'bad creds', '--credentials-file', file, '--json'], { env }),
      );
      expect(second).toMatchObject({ channel_type: 'sms', webhook_secret: like(/^[\w-]{32}$/) });
      const third = parsed<{ id: string }>(
        await cli(['channel', 'create', '--type', 'sms', '--provider', 'twilio', '--name', 'third', ...flags, '--json'], { env }),
      );

      // Two per page: three channels take two requests, and all three are listed once.
      const list = await cli(['channel', 'list', '--page-size', '2'], { tty: true, env });
      expect(list.code, list.err).toBe(0);
      const [header, ...rows] = rowsAfter(list.out, '');
      expect(header).toEqual(['ID', 'TYPE', 'PROVIDER', 'NAME', 'ENABLED', 'RATE', 'DAILY', 'CREATED']);
      expect(rows.map((r) => r[0]).sort()).toEqual([id, second.id, third.id].sort());
      expect(rows.find((r) => r[0] === id)?.slice(1, 7)).toEqual(['sms', 'twilio', 'cli sms', 'yes', '5/s', '—']);
      const listed = parsed<{ items: Array<Record<string, unknown>>; next_cursor: null }>(
        await cli(['channel', 'list', '--page-size', '1', '--json'], { env }),
      );
      expect(listed.items.map((c) => c.id).sort()).toEqual([id, second.id, third.id].sort());
      expect(listed.next_cursor).toBeNull();
      expect(JSON.stringify(listed)).not.toMatch(/webhook_secret"|credentials|sim-api-secret/);
      // Scoped to the key's account: the stack's own channel is not among them.
      expect(listed.items.map((c) => c.id)).not.toContain(channelId);

      const ok = await tty('channel', 'verify', id);
      expect(ok.code).toBe(1); // not this account's channel under the stack's key
      expect(ok.err).toBe(`error: channel ${id} not found\n`);
      const verified = await cli(['channel', 'verify', id], { tty: true, env });
      expect(verified).toEqual({ code: 0, out: `channel ${id}: credentials verified (account ${stack.twilioAccount.sid} status active)\n`, err: '' });

      const refused = await cli(['channel', 'verify', second.id], { tty: true, env });
      expect(refused).toEqual({ code: 1, out: '', err: `error: channel ${second.id}: the provider refused the credentials: authentication failed (20003)\n` });
      const refusedJson = await cli(['channel', 'verify', second.id, '--json'], { env });
      expect(refusedJson.code).toBe(1);
      expect(JSON.parse(refusedJson.out)).toEqual({ id: second.id, ok: false, detail: 'authentication failed (20003)' });
    });

    it("create names what is wrong: flags locally, the API's field and message otherwise", async () => {
      expect(await cli(['channel', 'create', '--name', 'x', '--credential', 'a=b'])).toMatchObject({ code: 2, err: has('--type is required') });
      expect(await cli(['channel', 'create', '--type', 'fax', '--name', 'x', '--credential', 'a=b'])).toMatchObject({
        code: 2,
        err: has('--type must be one of sms, whatsapp, messenger, email, smpp, not "fax"'),
      });
      expect(await cli(['channel', 'create', '--type', 'sms', '--name', 'x'])).toMatchObject({ code: 2, err: has('credentials are required') });
      const bare = await cli(['channel', 'create', '--type', 'sms', '--name', 'x', '--credential', 'hunter2-secret']);
      expect(bare).toMatchObject({ code: 2, err: has('--credential must be key=value: credential 1 of 1 has no =') });
      expect(bare.err).not.toContain('hunter2');
      expect(await cli(['channel', 'create', '--type', 'sms', '--name', 'x', '--credentials-file', join(tmp, 'missing.json')])).toMatchObject({
        code: 2,
        err: has('no such file'),
      });
      const noProvider = await cli(['channel', 'create', '--type', 'sms', '--provider', 'nope', '--name', 'x', '--credential', 'a=b']);
      expect(noProvider).toEqual({
        code: 1,
        out: '',
        err: 'error: the API refused the request (400 validation_failed): provider: no provider "nope" for channel_type sms\n',
      });
      const missing = await cli(['channel', 'create', '--type', 'sms', '--provider', 'twilio', '--name', 'x', '--credential', 'from=+15017122661']);
      expect(missing.code).toBe(1);
      expect(missing.err).toMatch(/^error: the API refused the request \(400 validation_failed\): credentials\.\w+: is required for sms\/twilio\n$/);
    });
  });

  describe('usage, help and connection errors', () => {
    it('--help lists every command; <command> --help explains one; exit 0', async () => {
      const help = await cli(['--help']);
      expect(help.code).toBe(0);
      for (const c of [
        'message show <id>',
        'messages list',
        'group show <id>',
        'channel list',
        'channel create',
        'channel verify <id>',
        'replay',
        'account create',
        'key list',
        'credentials rotate',
      ]) {
        expect(help.out).toContain(`cli ${c}`);
      }
      const one = await cli(['group', 'show', '--help']);
      expect(one).toMatchObject({ code: 0, err: '' });
      expect(one.out).toMatch(/^usage: cli group show <id> \[--watch \[--interval-ms <ms>\]\] \[--json\]\n/);
      expect(one.out).toContain('until the group is finished');
      expect((await cli(['help', 'channel', 'verify'])).out).toMatch(/^usage: cli channel verify <id>/);
      expect((await cli(['channel', '--help'])).out).toMatch(/^channel commands:\n {2}cli channel list/);
    });

    it('unknown command or flag, a missing id, an extra argument: exit 2, naming it', async () => {
      expect(await cli([])).toMatchObject({ code: 2, err: like(/^error: no command given\nusage: cli <command>/) });
      expect(await cli(['mesage', 'show', 'x'])).toMatchObject({
        code: 2,
        out: '',
        err: 'error: unknown command: mesage\nrun `cli --help` for the commands\n',
      });
      expect(await cli(['message', 'delete', 'x'])).toMatchObject({ code: 2, err: like(/^error: unknown command: message delete\nmessage commands:\n/) });
      expect(await cli(['message', 'show', 'x', '--verbose'])).toMatchObject({
        code: 2,
        err: like(/^error: unknown flag --verbose for `cli message show`\nusage: cli message show <id> \[--json\]\n/),
      });
      expect(await cli(['message', 'show'])).toMatchObject({ code: 2, err: like(/^error: missing <id>\nusage: cli message show <id>/) });
      expect(await cli(['message', 'show', 'a', 'b'])).toMatchObject({ code: 2, err: like(/^error: unexpected argument "b"\n/) });
      expect(await cli(['message', 'show', 'a', stack.apiKey])).toMatchObject({ code: 2, err: like(/^error: unexpected argument \(an API key\)\n/) });
      expect(await cli(['messages', 'list', '--limit'])).toMatchObject({ code: 2, err: like(/^error: --limit needs a value\n/) });
      expect(await cli(['group', 'show', 'x', '--watch', '--interval-ms', '5'])).toMatchObject({
        code: 2,
        err: has('--interval-ms must be a whole number from 100'),
      });
    });

    it('an unreachable API is named by its URL; a refused key is said so and never printed', async () => {
      const port = await freePort();
      const down = await cli(['message', 'show', 'x'], { env: { TURUMBA_API_URL: `http://127.0.0.1:${port}` } });
      expect(down).toEqual({ code: 1, out: '', err: `error: cannot reach the API at http://127.0.0.1:${port}: ECONNREFUSED\n` });
      const badKey = 'tdk_000000000000_notakeyatallnotakeyatallnotakey';
      const refused = await cli(['messages', 'list'], { env: { TURUMBA_API_KEY: badKey } });
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(new RegExp(`^error: the API at ${stack.apiUrl} refused the API key \\(401`));
      expect(refused.err).not.toContain(badKey);
      const none = await cli(['channel', 'list'], { env: { TURUMBA_API_URL: undefined, TURUMBA_API_KEY: undefined } });
      expect(none).toMatchObject({ code: 1, err: has('no API to talk to: pass --api-url') });
    });

    it("finds the API in flags first, else the dev stack's stack.json under DEV_DIR", async () => {
      const dev = join(tmp, 'dev');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dev, { recursive: true });
      writeFileSync(join(dev, 'stack.json'), JSON.stringify({ api_url: stack.apiUrl, api_key: stack.apiKey }));
      const fromFile = await cli(['channel', 'list', '--json'], { env: { TURUMBA_API_URL: undefined, TURUMBA_API_KEY: undefined, DEV_DIR: dev } });
      expect(parsed<{ items: Array<{ id: string }> }>(fromFile).items.map((c) => c.id)).toContain(channelId);
      const port = await freePort();
      // Flags win over the environment.
      const flagged = await cli(['channel', 'list', '--api-url', `http://127.0.0.1:${port}`]);
      expect(flagged.err).toBe(`error: cannot reach the API at http://127.0.0.1:${port}: ECONNREFUSED\n`);
    });
  });

  it('the real entry point: npx tsx cli/main.ts message show <id> --json', async () => {
    const id = await send('+15551230000');
    await stack.waitForStatus(id, 'delivered');
    // Asynchronous: the API it asks runs in this process.
    const child = spawn('npx', ['tsx', 'cli/main.ts', 'message', 'show', id, '--json'], {
      cwd: join(__dirname, '..', '..'),
      env: { ...process.env, TURUMBA_API_URL: stack.apiUrl, TURUMBA_API_KEY: stack.apiKey, DEV_DIR: join(tmp, 'none') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, err).toBe(0);
    const doc = JSON.parse(out) as { message: { id: string; status: string }; events: unknown[] };
    expect(doc.message).toMatchObject({ id, status: 'delivered' });
    expect(doc.events.length).toBeGreaterThanOrEqual(3);
    expect(out + err).not.toContain(stack.apiKey);
  }, 60_000);
});
