import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '../db/client';
import { createAccount } from '../db/accounts';
import { createApiKey } from '../db/api-keys';
import { jasminAvailable } from '../tests/jasmin/jasmin-harness';
import { JASMIN_USER, startJasminRig } from '../tests/jasmin/jasmin-stack';
import { startInfra } from '../tests/support/infra';
import { eventually } from '../tests/support/stack';
import { machineLine } from './machine';
import { startEngine } from './processes';

// One run, one Jasmin, one SMSC peer, two ways in:
//   A. Jasmin's own HTTP /send, N messages at concurrency C (what Jasmin alone does);
//   B. the engine's POST /v1/messages, N messages at concurrency C, through the
//      ("smpp","jasmin") adapter to the same Jasmin (what the engine adds);
//   C. the engine's batched group: one POST /v1/group-messages of N recipients, sent by
//      the group's workflow in pages through the same adapter and Jasmin.
// Both rates are counted where the work lands: submit_sm PDUs received per second by
// the SMSC peer, from the first request to the N-th submit_sm.

let deadlineMs = 300_000;

interface PhaseResult {
  submitPerSecond: number;
  acceptedPerSecond: number;
  submitSpanMs: number;
  allDeliveredMs: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '500' },
      concurrency: { type: 'string', default: '20' },
      'rate-limit': { type: 'string', default: '10000' },
      /** Seconds each phase may take to see every submit_sm and every final receipt. */
      deadline: { type: 'string', default: '300' },
    },
  });
  const n = Number(values.messages);
  const c = Number(values.concurrency);
  deadlineMs = Number(values.deadline) * 1000;
  const available = await jasminAvailable();
  if (!available.ok) throw new Error(`cannot bench Jasmin: ${available.reason}`);

  // Receipts 200 ms after the submit, as an SMSC might: the bench measures throughput, not Jasmin's receipt/mapping race.
  const rig = await startJasminRig({ jasmin: { logLevel: 'WARNING' }, receiptDelayMs: 200 });
  const acks = await startAckServer();
  const running = await startInfra({ name: 'bench_jasmin' });
  const engine = await startEngine({ ...running.infra, stopOnSignal: [running.temporal.process], env: { DELIVERY_WAIT_SECONDS: '600' } });
  const database = connect(running.infra.databaseUrl, { max: 4 });
  try {
    const submitsTo = (prefix: string) => rig.smsc.submits.filter((s) => s.destination.startsWith(prefix) && s.status === 0);

    // A: Jasmin's HTTP API directly, with the same DLR request the adapter makes (level 2, POST).
    const a = await phase(
      n,
      c,
      '1555020',
      submitsTo,
      async (to, i) => {
        const form = new URLSearchParams({
          username: JASMIN_USER.username,
          password: JASMIN_USER.password,
          to,
          content: `bench direct ${i}`,
          dlr: 'yes',
          'dlr-url': `${acks.url}/dlr`,
          'dlr-level': '2',
          'dlr-method': 'POST',
        });
        const res = await fetch(`${rig.jasmin.httpUrl}/send`, { method: 'POST', body: form });
        const text = await res.text();
        if (!text.startsWith('Success')) throw new Error(`jasmin /send: ${res.status} ${text}`);
      },
      async () => ({ ok: acks.count() >= n, detail: `${acks.count()} DLRs thrown` }),
    );

    // B: the engine.
    const acct = await createAccount(database.db, 'bench jasmin');
    const { key } = await createApiKey(database.db, acct.id);
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${engine.apiUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };
    const channel = await post('/v1/channels', {
      channel_type: 'smpp',
      provider: 'jasmin',
      name: 'bench jasmin',
      credentials: rig.credentials(),
      rate_limit_per_second: Number(values['rate-limit']),
    });
    if (channel.status !== 201) throw new Error(`channel create: ${channel.status} ${JSON.stringify(channel.body)}`);
    const channelId = channel.body.id ?? '';
    const delivered = async () => {
      const r = await database.pool.query<{ status: string; n: string }>(`SELECT status, count(*) AS n FROM messages WHERE channel_id = $1 GROUP BY status`, [
        channelId,
      ]);
      const byStatus = Object.fromEntries(r.rows.map((row) => [row.status, Number(row.n)]));
      const unmapped = rig.jasmin.log('messages.log').split('Got a DLR for an unknown message id').length - 1;
      return { ok: (byStatus.delivered ?? 0) >= n, detail: `${JSON.stringify(byStatus)}, jasmin could not map ${unmapped} receipt lookups` };
    };
    const b = await phase(
      n,
      c,
      '1555030',
      submitsTo,
      async (to, i) => {
        const res = await post('/v1/messages', { channel_id: channelId, to: `+${to}`, body: `bench engine ${i}` });
        if (res.status !== 202) throw new Error(`POST /v1/messages: ${res.status} ${JSON.stringify(res.body)}`);
      },
      delivered,
    );

    // C: one batched group of n recipients on the same channel.
    const groupPrefix = '1555040';
    const groupStarted = Date.now();
    const group = await post('/v1/group-messages', {
      channel_id: channelId,
      body: 'bench group {{i}}',
      mode: 'batched',
      recipients: Array.from({ length: n }, (_, i) => ({ to: `+${groupPrefix}${String(i).padStart(4, '0')}`, variables: { i: String(i) } })),
    });
    if (group.status !== 202) throw new Error(`POST /v1/group-messages: ${group.status} ${JSON.stringify(group.body)}`);
    const groupAcceptedMs = Date.now() - groupStarted;
    const groupSubmits = await submitted(submitsTo, groupPrefix, n);
    const groupSpanMs = Math.max(...groupSubmits.map((x) => x.at)) - groupStarted;
    await eventually(
      async () => {
        const r = await database.pool.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM messages WHERE group_message_id = $1 AND status IN ('delivered', 'read')`,
          [group.body.id],
        );
        return Number(r.rows[0]?.n ?? 0) >= n ? true : undefined;
      },
      deadlineMs,
      200,
    );
    const g: PhaseResult = {
      submitPerSecond: (n * 1000) / groupSpanMs,
      acceptedPerSecond: (n * 1000) / groupAcceptedMs,
      submitSpanMs: groupSpanMs,
      allDeliveredMs: Date.now() - groupStarted,
    };

    const ratio = b.submitPerSecond / a.submitPerSecond;
    const groupRatio = g.submitPerSecond / a.submitPerSecond;
    const cpu = cpus();
    const lines = [
      `machine: ${machineLine()} (nproc ${cpu.length}, ${cpu[0]?.model.trim() ?? 'unknown CPU'})`,
      `jasmin ${rig.jasmin.version}, ${n} messages, concurrency ${c}, DLR level 2 on both paths`,
      `A jasmin /send direct : ${fmt(a.submitPerSecond)} submit_sm/s at the SMSC (${fmt(a.acceptedPerSecond)} /send accepted/s; all DLRs thrown in ${(a.allDeliveredMs / 1000).toFixed(1)} s)`,
      `B engine via jasmin   : ${fmt(b.submitPerSecond)} submit_sm/s at the SMSC (${fmt(b.acceptedPerSecond)} POST /v1/messages accepted/s; all delivered in ${(b.allDeliveredMs / 1000).toFixed(1)} s)`,
      `C engine batched group: ${fmt(g.submitPerSecond)} submit_sm/s at the SMSC (one POST of ${n} recipients; all delivered in ${(g.allDeliveredMs / 1000).toFixed(1)} s)`,
      `ratio engine/jasmin   : ${ratio.toFixed(2)} single messages, ${groupRatio.toFixed(2)} batched group`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const dir = join(__dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, `jasmin-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
      JSON.stringify(
        {
          machine: machineLine(),
          nproc: cpu.length,
          cpu: cpu[0]?.model.trim(),
          jasmin: rig.jasmin.version,
          n,
          concurrency: c,
          direct: a,
          engine: b,
          group: g,
          ratio,
          groupRatio,
        },
        null,
        2,
      ),
    );
  } finally {
    await database.close();
    await engine.stop();
    await running.stop();
    await acks.close();
    await rig.close();
  }
}

/** The accepted submit_sm to this prefix, once there are n of them (within the run's deadline). */
function submitted(submitsTo: (prefix: string) => Array<{ at: number }>, prefix: string, n: number): Promise<Array<{ at: number }>> {
  return eventually(
    async () => {
      const s = submitsTo(prefix);
      return s.length >= n ? s : undefined;
    },
    deadlineMs,
    50,
  );
}

/** Fires n requests c at a time, then waits for n accepted submit_sm at the peer and for `done`. */
async function phase(
  n: number,
  c: number,
  prefix: string,
  submitsTo: (prefix: string) => Array<{ at: number }>,
  request: (to: string, i: number) => Promise<void>,
  done: () => Promise<{ ok: boolean; detail: string }>,
): Promise<PhaseResult> {
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: c }, async () => {
      for (let i = next++; i < n; i = next++) await request(`${prefix}${String(i).padStart(4, '0')}`, i);
    }),
  );
  const acceptedMs = Date.now() - started;
  const submits = await submitted(submitsTo, prefix, n);
  const lastSubmit = Math.max(...submits.map((s) => s.at));
  let last = '';
  try {
    await eventually(
      async () => {
        const d = await done();
        last = d.detail;
        return d.ok ? true : undefined;
      },
      deadlineMs,
      200,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${last}`);
  }
  const allDeliveredMs = Date.now() - started;
  const submitSpanMs = lastSubmit - started;
  return { submitPerSecond: (n * 1000) / submitSpanMs, acceptedPerSecond: (n * 1000) / acceptedMs, submitSpanMs, allDeliveredMs };
}

/** Answers Jasmin's DLR throws the way it wants (ACK/Jasmin) and counts them. */
async function startAckServer(): Promise<{ url: string; count(): number; close(): Promise<void> }> {
  let count = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count += 1;
      res.end('ACK/Jasmin');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const fmt = (v: number) => v.toFixed(1);

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
