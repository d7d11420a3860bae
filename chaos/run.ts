import { spawn } from 'node:child_process';
import type { Pool } from 'pg';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { machineLine } from '../bench/machine';
import { connect } from '../db/client';
import { createAccount } from '../db/accounts';
import { createApiKey } from '../db/api-keys';
import { startTwilioSimulator } from '../sandbox/twilio/server';
import { startChaosEngine, type ChaosEngine } from './engine';
import { startChaosInfra, type ChaosInfra } from './infra';
import { runLoad, sleep } from './load';
import { doubleSends, failureCodes, pct, regressions, statusCounts, storedIds, TERMINAL, type FaultEvent } from './report';

// npm run chaos: 10,000 SMS through the engine while the worker is SIGKILLed three
// times, Temporal and Postgres restart, and the provider answers 5xx, hangs and 429s.
// Then: every message must reach a terminal state, none may regress, and each double
// send must be explained by a kill or a restart. Ends with the API fuzz at full count.
// A batched group of CHAOS_GROUP_RECIPIENTS (5,000; 0: none) at CHAOS_GROUP_RATE/s (20) runs
// through the same faults, and the report says what became of each of its recipients.
// CHAOS_MESSAGES, CHAOS_RATE, CHAOS_FUZZ_RUNS (0 skips the fuzz) tune it; CHAOS_FAULTS=off
// runs the same load without faults, for comparison.

const TOTAL = Number(process.env.CHAOS_MESSAGES ?? 10_000);
/** A batched group sent beside the single messages, on its own channel, slow enough that every fault lands on it. */
const GROUP_RECIPIENTS = Number(process.env.CHAOS_GROUP_RECIPIENTS ?? 5_000);
const GROUP_RATE = Number(process.env.CHAOS_GROUP_RATE ?? 20);
const RATE = Number(process.env.CHAOS_RATE ?? 40);
const FUZZ_RUNS = Number(process.env.CHAOS_FUZZ_RUNS ?? 10_000);
// The queue drains after the load at the engine's pace (under 10 msg/s here while faults clear).
const SETTLE_MS = Math.max(15 * 60_000, TOTAL * 250);
const DELIVERY_WAIT_SECONDS = 180;
const account = { sid: `AC${'c'.repeat(32)}`, apiKey: `SK${'d'.repeat(32)}`, apiSecret: 'chaos-api-secret', authToken: 'chaos-auth-token' };

const t0 = Date.now();
const at = (t = Date.now()) => `+${((t - t0) / 1000).toFixed(1)}s`;
const say = (line: string) => process.stdout.write(`[${at()}] ${line}\n`);

async function main(): Promise<void> {
  say(`chaos: ${TOTAL} SMS at ${RATE}/s on ${machineLine()}`);
  const infra = await startChaosInfra();
  const sim = await startTwilioSimulator({ accounts: [account], callbackDelayMs: 50 });
  const database = connect(infra.databaseUrl, { max: 4 });
  // A step that hangs (a socket the faults left half-open) must not keep the run from ending.
  const bounded = async (name: string, p: Promise<unknown>) => {
    let finished = false;
    await Promise.race([
      p.then(
        () => void (finished = true),
        () => void (finished = true),
      ),
      sleep(20_000),
    ]);
    if (!finished) say(`cleanup: ${name} did not finish within 20 s, moving on`);
  };
  const cleanUp = async () => {
    await bounded('simulator close', sim.close());
    await bounded('database close', database.close());
    await bounded('infrastructure stop', infra.stop());
  };
  const engine = await startChaosEngine(infra, {
    CREDENTIALS_KEY: process.env.CREDENTIALS_KEY ?? randomBytes(32).toString('base64'),
    SEND_INITIAL_INTERVAL_MS: '500',
    SEND_MAX_INTERVAL_MS: '10000',
    SEND_MAX_ATTEMPTS: '10',
    // A receipt lost while the API could not take it would leave the message `sent` for a day.
    DELIVERY_WAIT_SECONDS_SMS: String(DELIVERY_WAIT_SECONDS),
    DELIVERY_TIMEOUT_ACTION_SMS: 'undelivered',
  }).catch(async (err: unknown) => {
    await cleanUp();
    throw err;
  });
  const faults: FaultEvent[] = [];
  try {
    const owner = await createAccount(database.db, 'chaos');
    const key = await createApiKey(database.db, owner.id);
    const smsChannel = (name: string, perSecond: number) =>
      fetch(`${engine.apiUrl}/v1/channels`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          channel_type: 'sms',
          provider: 'twilio',
          name,
          rate_limit_per_second: perSecond,
          credentials: {
            account_sid: account.sid,
            api_key: account.apiKey,
            api_secret: account.apiSecret,
            auth_token: account.authToken,
            from: '+15017122661',
            base_url: sim.url,
          },
        }),
      }).then((r) => r.json() as Promise<{ id: string }>);
    const channel = await smsChannel('chaos sms', 1000);
    say(
      `stack up: temporal ${infra.temporalAddress} (file-backed), api ${engine.apiUrl}, postgres restart ${infra.restartPostgres ? 'enabled' : 'NOT available'}`,
    );

    const groupChannel = await smsChannel('chaos group', GROUP_RATE);
    const group =
      GROUP_RECIPIENTS > 0
        ? await fetch(`${engine.apiUrl}/v1/group-messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              channel_id: groupChannel.id,
              mode: 'batched',
              body: 'chaos group {{n}}',
              recipients: Array.from({ length: GROUP_RECIPIENTS }, (_, i) => ({ to: `+1558${String(i).padStart(7, '0')}`, variables: { n: String(i) } })),
            }),
          }).then(async (r) => {
            if (r.status !== 202) throw new Error(`group create: ${r.status} ${await r.text()}`);
            return (await r.json()) as { id: string };
          })
        : undefined;
    if (group) say(`batched group ${group.id}: ${GROUP_RECIPIENTS} recipients at ${GROUP_RATE}/s`);

    const loadStart = Date.now();
    const durationMs = (TOTAL / RATE) * 1000;
    const [load] = await Promise.all([
      runLoad({
        apiUrl: engine.apiUrl,
        apiKey: key.key,
        channelId: channel.id,
        total: TOTAL,
        perSecond: RATE,
        concurrency: 32,
        onProgress: (n) => say(`submitted ${n}`),
      }),
      process.env.CHAOS_FAULTS === 'off' ? Promise.resolve() : timeline(loadStart, durationMs, infra, engine, sim, faults),
    ]);
    const accepts = [...load.acceptMs].sort((a, b) => a - b);
    say(
      `load done: ${load.accepted.size} accepted in ${(load.elapsedMs / 1000).toFixed(0)} s; accept p50 ${pct(accepts, 50)} ms p99 ${pct(accepts, 99)} ms; refusals ${JSON.stringify(Object.fromEntries(load.refusals))}; ambiguous ${load.ambiguous}`,
    );

    const settleStart = Date.now();
    let counts: Record<string, number> = {};
    for (;;) {
      counts = await statusCounts(database.pool, owner.id);
      const open = Object.entries(counts)
        .filter(([s]) => !(TERMINAL as readonly string[]).includes(s))
        .reduce((a, [, n]) => a + n, 0);
      if (open === 0 || Date.now() - settleStart > SETTLE_MS) break;
      say(`waiting: ${JSON.stringify(counts)}`);
      await sleep(10_000);
    }
    const stored = await storedIds(database.pool, owner.id);
    const lost = [...load.accepted.keys()].filter((id) => !stored.has(id));
    const open = Object.entries(counts).filter(([s]) => !(TERMINAL as readonly string[]).includes(s));
    const reg = await regressions(database.pool, owner.id);
    const doubles = doubleSends(sim, faults, t0);
    const unexplained = doubles.filter((d) => d.reason.startsWith('UNEXPLAINED'));

    const webhook5xx = webhook5xxReport(sim.callbacksSent, faults);
    const groupReport = group ? await batchedGroupReport(database.pool, group.id, GROUP_RECIPIENTS, doubles) : undefined;
    const lines = [
      '',
      '================ chaos report ================',
      `machine            ${machineLine()}`,
      `messages           ${TOTAL} offered at ${RATE}/s, ${load.accepted.size} accepted (202), ${stored.size} rows (${stored.size - load.accepted.size} from POSTs whose answer was lost)`,
      `faults             ${faults.map((f) => `${f.kind}@${at(f.at)}${f.until ? `(down ${((f.until - f.at) / 1000).toFixed(1)}s)` : ''}${f.note ? `[${f.note}]` : ''}`).join(', ')}`,
      `final states       ${JSON.stringify(counts)} (single messages and the batched group's)`,
      `not delivered      ${JSON.stringify(await failureCodes(database.pool, owner.id))}`,
      `settled in         ${((Date.now() - settleStart) / 1000).toFixed(0)} s after the load`,
      `NOT TERMINAL       ${open.reduce((a, [, n]) => a + n, 0)} ${open.length ? JSON.stringify(Object.fromEntries(open)) : ''}`,
      `LOST (202, no row) ${lost.length}${lost.length ? ` e.g. ${lost.slice(0, 3).join(', ')}` : ''}`,
      `REGRESSIONS        ${reg.count}${reg.samples.length ? ` e.g. ${reg.samples.join('; ')}` : ''}`,
      `SENT TWICE+        ${doubles.length} (unexplained: ${unexplained.length})`,
      ...doubles.slice(0, 20).map((d) => `  ${d.messageId} ×${d.accepted} attempts ${d.attempts}: ${d.reason}`),
      `provider calls     ${sim.requests.length} create requests for ${load.accepted.size} messages${group ? ` and ${GROUP_RECIPIENTS} group recipients` : ''}; ${sim.callbacksSent.filter((c) => c.httpStatus < 200 || c.httpStatus >= 300).length} callback attempts refused or unreachable`,
      webhook5xx.line,
      ...(groupReport ? [groupReport.line] : []),
      `unexpected exits   ${engine.unexpectedExits.length ? engine.unexpectedExits.join('; ') : 'none'}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const ok = open.length === 0 && lost.length === 0 && reg.count === 0 && unexplained.length === 0 && webhook5xx.outside === 0 && (groupReport?.ok ?? true);
    process.exitCode = ok ? 0 : 1;
    say(ok ? 'chaos: PASS' : 'chaos: FAIL');
  } finally {
    await bounded('engine stop', engine.stop());
    await cleanUp();
  }
  if (FUZZ_RUNS > 0) process.exitCode = (await fuzz()) === 0 ? process.exitCode : 1;
}

/**
 * Webhook answers of 5xx: receipts are written to PostgreSQL where they arrive and never wait
 * on Temporal, so the only 5xx expected are while PostgreSQL itself is down (the provider retries them).
 */
function webhook5xxReport(
  callbacks: ReadonlyArray<{ httpStatus: number; at: number }>,
  faults: ReadonlyArray<{ kind: string; at: number; until?: number }>,
): { line: string; outside: number } {
  const pgDown = faults.filter((f) => f.kind === 'postgres-restart').map((f) => [f.at, (f.until ?? f.at) + PG_RECOVERY_MARGIN_MS] as const);
  const fivexx = callbacks.filter((c) => c.httpStatus >= 500);
  const outside = fivexx.filter((c) => !pgDown.some(([from, to]) => c.at >= from && c.at <= to));
  return {
    line: `WEBHOOK 5XX        ${outside.length} (${fivexx.length} in all; ${fivexx.length - outside.length} while PostgreSQL restarted)`,
    outside: outside.length,
  };
}

/** The batched group: completed, one terminal row per recipient, and its double sends (each explained above or not). */
async function batchedGroupReport(
  pool: Pool,
  groupId: string,
  total: number,
  doubles: ReadonlyArray<{ messageId: string; reason: string }>,
): Promise<{ line: string; ok: boolean }> {
  const g = await pool.query<{ status: string }>('SELECT status FROM group_messages WHERE id = $1', [groupId]);
  const rows = await pool.query<{ id: string; status: string }>('SELECT id::text AS id, status FROM messages WHERE group_message_id = $1', [groupId]);
  const by: Record<string, number> = {};
  for (const r of rows.rows) by[r.status] = (by[r.status] ?? 0) + 1;
  const ids = new Set(rows.rows.map((r) => r.id));
  const twice = doubles.filter((d) => ids.has(d.messageId));
  const terminal = rows.rows.filter((r) => (TERMINAL as readonly string[]).includes(r.status)).length;
  const ok = g.rows[0]?.status === 'completed' && rows.rows.length === total && terminal === total;
  return {
    line: `BATCHED GROUP      ${g.rows[0]?.status ?? 'missing'}: ${rows.rows.length} of ${total} recipients have a row, ${terminal} terminal ${JSON.stringify(by)}; sent twice ${twice.length} (unexplained: ${twice.filter((d) => d.reason.startsWith('UNEXPLAINED')).length})`,
    ok,
  };
}

/** Pool connections come back a moment after the server does. */
const PG_RECOVERY_MARGIN_MS = 5_000;

/** The fault schedule, spread over the load's duration. */
async function timeline(
  start: number,
  durationMs: number,
  infra: ChaosInfra,
  engine: ChaosEngine,
  sim: Awaited<ReturnType<typeof startTwilioSimulator>>,
  faults: FaultEvent[],
): Promise<void> {
  const until = async (share: number) => sleep(Math.max(0, start + durationMs * share - Date.now()));
  const killWorker = async (n: number) => {
    const began = Date.now();
    const pid = await engine.killWorker();
    say(`SIGKILL worker #${n} (pid ${pid})`);
    await sleep(2_000);
    const next = await engine.startWorker();
    faults.push({ kind: 'worker-kill', at: began, until: Date.now(), note: `pid ${pid} → ${next}` });
    say(`worker restarted (pid ${next})`);
  };
  const bursts = (async () => {
    await until(0.2);
    while (Date.now() < start + durationMs * 0.9) {
      sim.setMode({ rateLimitRate: 0.5, retryAfterSec: 1 });
      faults.push({ kind: 'rate-limit-burst', at: Date.now() });
      await sleep(3_000);
      sim.setMode({ rateLimitRate: 0 });
      await sleep(Math.max(5_000, durationMs * 0.08));
    }
  })();

  await until(0.1);
  await killWorker(1);
  await until(0.15);
  sim.setMode({ error5xxRate: 0.2, timeoutRate: 0.05 });
  faults.push({ kind: 'faults-on', at: Date.now(), note: '20% 5xx, 5% timeouts' });
  say('simulator: 20 % 5xx, 5 % timeouts, 429 bursts');
  await until(0.3);
  say('restarting Temporal');
  const tBegan = Date.now();
  const t = await infra.restartTemporal();
  faults.push({ kind: 'temporal-restart', at: tBegan, until: tBegan + t.downMs });
  say(`Temporal back after ${t.downMs} ms`);
  await until(0.45);
  await killWorker(2);
  await until(0.6);
  if (infra.restartPostgres) {
    say('restarting Postgres');
    const pBegan = Date.now();
    const p = infra.restartPostgres();
    faults.push({ kind: 'postgres-restart', at: pBegan, until: pBegan + p.downMs, note: p.output });
    say(`Postgres back after ${p.downMs} ms`);
  }
  await until(0.75);
  await killWorker(3);
  await bursts;
  await until(1);
  sim.setMode({ error5xxRate: 0, timeoutRate: 0, rateLimitRate: 0 });
  faults.push({ kind: 'faults-off', at: Date.now() });
  say('simulator: faults off');
}

/** The API fuzz at full count, in its own vitest run (its own Temporal and database). */
function fuzz(): Promise<number> {
  say(`fuzz: ${FUZZ_RUNS} requests (tests/fuzz)`);
  return new Promise((resolve) => {
    const child = spawn(join(__dirname, '..', 'node_modules', '.bin', 'vitest'), ['run', 'tests/fuzz'], {
      env: { ...process.env, FUZZ_RUNS: String(FUZZ_RUNS) },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('exit', (code) => {
      say(`fuzz: exit ${code}`);
      resolve(code ?? 1);
    });
  });
}

// Exit even if a handle the faults left behind would keep the loop alive.
main().then(
  () => process.exit(),
  (err: unknown) => {
    process.stderr.write(`chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
