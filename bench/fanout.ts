import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { connect } from '../db/client';
import { Keyring, useKeyring } from '../db/credentials-crypto';
import { createAccount } from '../db/accounts';
import { createApiKey } from '../db/api-keys';
import { directLeg } from './baselines/direct-dispatcher';
import { startSimulators } from './engine/simulators';
import { startInfra } from '../tests/support/infra';
import { groupWorkflowId } from '../workflows/definitions';
import { machineLine, percentile, treeRssMiB } from './machine';
import { startEngine } from './processes';

// One group message to N recipients (default 100,000) through one SMS channel on
// the Twilio simulator, with API and worker as separate processes: time to
// every message sent and delivered, msgs/s, and the group's events per run and per
// 1,000 recipients. `--mode batched|per_message` picks the fan-out; before it, in the
// same process and on the same simulator, the direct dispatcher (same adapter, same
// PostgreSQL writes, no Temporal) sends `--direct` of the recipients (default the
// smaller of 20,000 and all), and the bench prints both rates and their ratio.

const UPLOAD_BATCH = 10_000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      recipients: { type: 'string', default: '100000' },
      rate: { type: 'string', default: '100000' },
      mode: { type: 'string', default: 'batched' },
      direct: { type: 'string' },
      'direct-concurrency': { type: 'string', default: '64' },
      'timeout-minutes': { type: 'string', default: '180' },
    },
  });
  const total = Number(values.recipients);
  const timeoutMs = Number(values['timeout-minutes']) * 60_000;
  if (!Number.isInteger(total) || total < 1) throw new Error('--recipients must be a positive integer');
  const mode = values.mode;
  if (mode !== 'batched' && mode !== 'per_message') throw new Error('--mode must be batched or per_message');
  const directCount = Number(values.direct ?? Math.min(total, 20_000));
  const directConcurrency = Number(values['direct-concurrency']);
  if (!Number.isInteger(directCount) || directCount < 0) throw new Error('--direct must be a whole number (0 skips the direct leg)');

  // The direct leg stores its channel from this process; the engine's processes inherit the same key.
  const credentialsKey = process.env.CREDENTIALS_KEY ?? Keyring.generateKey();
  process.env.CREDENTIALS_KEY = credentialsKey;
  useKeyring(Keyring.fromBase64(credentialsKey));

  // On disk: in memory the dev server's RSS grows ~380 KB per closed workflow and fills 24 GiB near 60,000.
  const running = await startInfra({ name: 'fanout', temporalOnDisk: true });
  const sims = await startSimulators(50);
  const engine = await startEngine({ ...running.infra, stopOnSignal: [running.temporal.process] });
  const database = connect(running.infra.databaseUrl, { max: 2 });
  const connection = await Connection.connect({ address: running.infra.temporalAddress });
  const temporal = new Client({ connection });
  try {
    const acct = await createAccount(database.db, 'bench');
    const { key } = await createApiKey(database.db, acct.id);
    const number = (i: number) => `+1555${String(i).padStart(7, '0')}`;
    const text = (i: number) => `Hello customer ${i}, the sale starts now`;

    // The direct dispatcher first, on the same simulator, before the engine's load.
    const direct =
      directCount > 0
        ? await directLeg({ db: database.db, pool: database.pool, accountId: acct.id, sims }, 'sms', directCount, directConcurrency, timeoutMs, (i) => ({
            to: number(5_000_000 + i),
            body: text(i),
          }))
        : undefined;
    if (direct) process.stderr.write(`  direct dispatcher: ${directCount} in ${direct.wallSeconds.toFixed(1)} s → ${direct.perSecond.toFixed(1)} msgs/s\n`);

    const api = async (path: string, body?: unknown) => {
      const res = await fetch(`${engine.apiUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, unknown>;
      if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const channel = await api('/v1/channels', {
      channel_type: 'sms',
      provider: 'twilio',
      name: 'bench',
      rate_limit_per_second: Number(values.rate),
      credentials: sims.smsCredentials,
    });

    const uploadStart = performance.now();
    const draft = await api('/v1/group-messages', { channel_id: channel.id, body: 'Hello {{name}}, the sale starts now', draft: true, mode });
    const groupId = String(draft.id);
    for (let from = 0; from < total; from += UPLOAD_BATCH) {
      const batch = Array.from({ length: Math.min(UPLOAD_BATCH, total - from) }, (_, i) => ({
        to: number(from + i),
        variables: { name: `customer ${from + i}` },
      }));
      await api(`/v1/group-messages/${groupId}/recipients`, { recipients: batch });
    }
    const uploadSeconds = (performance.now() - uploadStart) / 1000;

    const loadAtStart = loadavg()[0] ?? 0;
    const t0 = performance.now();
    await api(`/v1/group-messages/${groupId}/start`);
    const elapsed = () => (performance.now() - t0) / 1000;
    let allSentAt: number | undefined;
    let fanoutDoneAt: number | undefined;
    let lastReport = 0;
    let peakTemporalRss = 0;
    for (;;) {
      // The box is shared: a database restart mid-run costs a poll, not the run.
      const r = await database.pool
        .query<{ sent: string; delivered: string; failed: string; status: string }>(
          `SELECT count(*) FILTER (WHERE m.sent_at IS NOT NULL)::text AS sent,
                  count(*) FILTER (WHERE m.status IN ('delivered', 'read'))::text AS delivered,
                  count(*) FILTER (WHERE m.status IN ('failed', 'undelivered'))::text AS failed,
                  (SELECT status FROM group_messages WHERE id = $1) AS status
           FROM messages m WHERE m.group_message_id = $1`,
          [groupId],
        )
        .catch((err: unknown) => {
          process.stderr.write(`  poll failed (${(err as Error).message}); retrying\n`);
          return { rows: [] };
        });
      if (r.rows.length === 0) {
        await new Promise((res) => setTimeout(res, 2000));
        continue;
      }
      const row = r.rows[0];
      const [sent, delivered, failed] = [Number(row?.sent), Number(row?.delivered), Number(row?.failed)];
      if (fanoutDoneAt === undefined && row?.status === 'completed') fanoutDoneAt = elapsed();
      if (allSentAt === undefined && sent + failed >= total) allSentAt = elapsed();
      if (elapsed() - lastReport >= 10) {
        lastReport = elapsed();
        const temporalRss = treeRssMiB(running.temporal.process.pid);
        peakTemporalRss = Math.max(peakTemporalRss, temporalRss);
        process.stderr.write(
          `  ${elapsed().toFixed(0)} s: sent ${sent}, delivered ${delivered}, failed ${failed}, group ${row?.status}; temporal server RSS ${temporalRss} MiB\n`,
        );
      }
      if (delivered + failed >= total) break;
      if (performance.now() - t0 > timeoutMs)
        throw new Error(`not all delivered within ${values['timeout-minutes']} minutes (sent ${sent}, delivered ${delivered})`);
      await new Promise((res) => setTimeout(res, 1000));
    }
    const allDeliveredAt = elapsed();

    // The last run finishes just after the last child start; then walk the continue-as-new
    // chain back from it (exact, unlike the eventually consistent visibility list).
    const parent = temporal.workflow.getHandle(groupWorkflowId(groupId));
    await parent.result();
    fanoutDoneAt ??= elapsed();
    const runs: number[] = [];
    for (let runId: string | undefined = (await parent.describe()).runId; runId;) {
      const history = await temporal.workflow.getHandle(groupWorkflowId(groupId), runId).fetchHistory();
      runs.push(history.events?.length ?? 0);
      runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    }
    runs.sort((a, b) => a - b);
    const failedCount = await database.pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM messages WHERE group_message_id = $1 AND status IN ('failed', 'undelivered')`,
      [groupId],
    );
    const totalEvents = runs.reduce((a, n) => a + n, 0);
    const engineRate = total / allDeliveredAt;
    const metricsText = await (await fetch(engine.workerMetricsUrl)).text();
    const fanoutMetric = metricsText.split('\n').find((l) => l.startsWith('turumba_group_message_fanout_duration_seconds_sum'));

    const rows = [
      ['machine', machineLine()],
      // Other processes on the box take their share: the number means little without it.
      ['load average (1 min)', `${loadAtStart.toFixed(1)} at start, ${(loadavg()[0] ?? 0).toFixed(1)} at end`],
      ['recipients', `${total} (one group, mode ${mode}, one SMS channel, rate limit ${values.rate}/s, Twilio simulator with status callbacks)`],
      ['upload', `${uploadSeconds.toFixed(1)} s (${Math.ceil(total / UPLOAD_BATCH)} calls of up to ${UPLOAD_BATCH})`],
      [
        'fan-out done',
        `${fanoutDoneAt?.toFixed(1) ?? 'n/a'} s (${mode === 'batched' ? 'every recipient sent or failed' : 'every message workflow started'}; metric sum ${fanoutMetric?.split(' ').at(-1) ?? 'n/a'} s)`,
      ],
      ['time to all sent', `${allSentAt?.toFixed(1) ?? 'n/a'} s → ${allSentAt ? (total / allSentAt).toFixed(1) : 'n/a'} msgs/s`],
      ['time to all delivered', `${allDeliveredAt.toFixed(1)} s → ${(total / allDeliveredAt).toFixed(1)} msgs/s`],
      ['failed/undelivered', failedCount.rows[0]?.n ?? '?'],
      ['temporal server', `SQLite file (WAL); peak RSS ${peakTemporalRss} MiB`],
      ['parent runs', `${runs.length}`],
      ['events per run', `min ${runs[0] ?? 0}, median ${percentile(runs, 50)}, max ${runs.at(-1) ?? 0}`],
      [
        'group history',
        `${totalEvents} events → ${((totalEvents / total) * 1000).toFixed(1)} per 1,000 recipients${mode === 'per_message' ? ' (plus each message workflow its own)' : ''}`,
      ],
      [
        'direct dispatcher',
        direct
          ? `${directCount} messages at concurrency ${directConcurrency}: ${direct.wallSeconds.toFixed(1)} s → ${direct.perSecond.toFixed(1)} msgs/s`
          : 'skipped (--direct 0)',
      ],
      [
        'engine / direct',
        direct
          ? `${(engineRate / direct.perSecond).toFixed(3)} (${engineRate.toFixed(1)} / ${direct.perSecond.toFixed(1)} msgs/s, first accept to last delivered)`
          : 'n/a',
      ],
    ];
    process.stdout.write(`\ngroup fan-out bench\n${rows.map(([k, v]) => `  ${(k ?? '').padEnd(22)} ${v}`).join('\n')}\n`);
  } finally {
    await connection.close();
    await engine.stop();
    await database.close();
    await sims.close();
    await running.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
