import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { connect } from '../db/client';
import { Keyring, useKeyring } from '../db/credentials-crypto';
import { createAccount } from '../db/accounts';
import { createApiKey } from '../db/api-keys';
import { startInfra } from '../tests/support/infra';
import { directLeg } from './baselines/direct-dispatcher';
import { noopLeg } from './baselines/noop-leg';
import { barChartSvg, writeChart } from './engine/chart';
import { engineLeg, type BenchChannel } from './engine/engine-leg';
import { cpuPerMessage, sampleCpu, type ProcessGroup } from './engine/cpu';
import { ACTIONS_DEFINITION, historyCost, type HistoryCost } from './engine/history';
import { round, type LegResult, type Spread } from './engine/load';
import { metricSum } from './engine/metric-sum';
import { startSimulators } from './engine/simulators';
import { machineLine } from './machine';
import { startEngine } from './processes';

// `npm run bench`: the engine's full message lifecycle next to a direct dispatcher
// (baseline A) and a one-activity Temporal workflow (baseline B), in one run on one machine.

const CHANNELS: BenchChannel[] = ['sms', 'whatsapp'];
const HISTORY_SAMPLE = 20;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      messages: { type: 'string' },
      concurrency: { type: 'string', default: '50' },
      'callback-delay-ms': { type: 'string', default: '10' },
    },
  });
  const count = Number(values.messages ?? (values.quick ? 200 : 3000));
  const concurrency = Number(values.concurrency);
  const callbackDelayMs = Number(values['callback-delay-ms']);
  if (!(count > 0) || !(concurrency > 0) || !(callbackDelayMs >= 0)) throw new Error('--messages and --concurrency must be positive numbers');
  const timeoutMs = Math.max(60_000, count * 100);
  // Baseline A stores its channels from this process; the engine's processes inherit the same key.
  const credentialsKey = process.env.CREDENTIALS_KEY ?? Keyring.generateKey();
  process.env.CREDENTIALS_KEY = credentialsKey;
  useKeyring(Keyring.fromBase64(credentialsKey));

  // Baseline B's in-process worker would otherwise print its state changes into the table.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const t0 = Date.now();
  const log = (line: string): void => void process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}\n`);
  log(`starting Temporal dev server + Postgres database (${count} messages per leg, concurrency ${concurrency})`);
  const running = await startInfra({ name: 'bench' });
  const sims = await startSimulators(callbackDelayMs);
  const database = connect(running.infra.databaseUrl, { max: Math.max(10, concurrency) });
  const connection = await Connection.connect({ address: running.infra.temporalAddress });
  const client = new Client({ connection });
  const legs: LegResult[] = [];
  const history: Record<string, HistoryCost> = {};
  const cpu: Record<string, ReturnType<typeof cpuPerMessage>> = {};
  // Where each leg's CPU goes: the bench process is the load generator, the simulators and the in-process legs.
  const groups = (extra: Record<string, ProcessGroup>): Record<string, ProcessGroup> => ({
    temporal: { roots: [running.temporal.process.pid ?? -1] },
    postgres: { comm: 'postgres' },
    bench: { pid: process.pid },
    ...extra,
  });
  const measured = async <T extends LegResult>(g: Record<string, ProcessGroup>, leg: () => Promise<T>): Promise<T> => {
    const before = sampleCpu(g);
    const result = await leg();
    cpu[result.name] = cpuPerMessage(before, sampleCpu(g), result.messages);
    return result;
  };
  let rateLimitHits = 0;
  try {
    const account = await createAccount(database.db, 'bench');
    const { key } = await createApiKey(database.db, account.id);

    log('starting engine (API + worker processes)');
    const engine = await startEngine({ ...running.infra, stopOnSignal: [running.temporal.process] });
    try {
      const target = { apiUrl: engine.apiUrl, apiKey: key, pool: database.pool, sims };
      // Warm-up: JIT, connection pools and the workflow cache, so leg 1 is not the cold one.
      await engineLeg(target, 'sms', Math.min(values.quick ? 20 : 100, count), concurrency, timeoutMs);
      const engineGroups = groups({ worker: { roots: [engine.worker.pid ?? -1] }, api: { roots: [engine.api.pid ?? -1] } });
      for (const channel of CHANNELS) {
        log(`engine ${channel}`);
        const leg = await measured(engineGroups, () => engineLeg(target, channel, count, concurrency, timeoutMs));
        legs.push(leg);
        log(summary(leg));
        history[leg.name] = await historyCost(
          client,
          leg.ids.slice(0, HISTORY_SAMPLE).map((id) => `message-${id}`),
        );
      }
      // Should stay 0: the channels' limit is far above the offered load.
      rateLimitHits = await metricSum(engine.workerMetricsUrl, 'turumba_rate_limit_hits_total');
    } finally {
      await engine.stop();
    }
    for (const channel of CHANNELS) {
      log(`direct dispatcher ${channel}`);
      const leg = await measured(groups({}), () =>
        directLeg({ db: database.db, pool: database.pool, accountId: account.id, sims }, channel, count, concurrency, timeoutMs),
      );
      legs.push(leg);
      log(summary(leg));
    }
    log('temporal no-op workflow');
    legs.push(await measured(groups({}), () => noopLeg(running.infra.temporalAddress, count, concurrency)));
  } finally {
    await connection.close();
    await database.close();
    await sims.close();
    await running.stop();
  }
  report({ legs, history, cpu, rateLimitHits, count, concurrency, callbackDelayMs, quick: values.quick ?? false, totalSeconds: (Date.now() - t0) / 1000 });
}

function summary(l: LegResult): string {
  return `${l.name}: ${l.perSecond.toFixed(1)} msg/s; to sent ${JSON.stringify(l.toSentMs)}; to delivered ${JSON.stringify(l.toDeliveredMs)}`;
}

function report(r: {
  legs: LegResult[];
  history: Record<string, HistoryCost>;
  cpu: Record<string, ReturnType<typeof cpuPerMessage>>;
  rateLimitHits: number;
  count: number;
  concurrency: number;
  callbackDelayMs: number;
  quick: boolean;
  totalSeconds: number;
}): void {
  const by = (name: string): LegResult | undefined => r.legs.find((l) => l.name === name);
  const noop = by('temporal no-op');
  const ratios = Object.fromEntries(
    CHANNELS.map((c) => {
      const e = by(`engine ${c}`)?.perSecond ?? NaN;
      return [c, { engineOverA: round(e / (by(`direct ${c}`)?.perSecond ?? NaN), 3), engineOverB: round(e / (noop?.perSecond ?? NaN), 3) }];
    }),
  );
  const ms = (s: Spread | undefined): string => (s ? `${s.p50} / ${s.p99}` : '–');
  const header = ['leg', 'msg/s', 'wall s', 'accept p50/p99 ms', 'to sent p50/p99 ms', 'to delivered p50/p99 ms'];
  const rows = r.legs.map((l) => [l.name, l.perSecond.toFixed(1), l.wallSeconds.toFixed(1), ms(l.acceptMs), ms(l.toSentMs), ms(l.toDeliveredMs)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`;
  const out = [
    '',
    `dispatch bench${r.quick ? ' (--quick)' : ''}: ${r.count} messages per leg, concurrency ${r.concurrency}, simulator callback gap ${r.callbackDelayMs} ms`,
    `  machine: ${machineLine()}`,
    line(header),
    ...rows.map(line),
    '  (temporal no-op: "to delivered" is start→result of the workflow)',
    ...CHANNELS.map((c) => `  ratio ${c}: engine/A ${ratios[c]?.engineOverA}  engine/B ${ratios[c]?.engineOverB}`),
    ...Object.entries(r.history).flatMap(([leg, h]) => {
      const k = (name: string): number => h.breakdown[name] ?? 0;
      return [
        `  ${leg}, per delivered message (history of ${h.sampled}): ${h.eventsPerMessage.toFixed(1)} events, ${h.actionsPerMessage.toFixed(1)} actions, ` +
          `${k('workflowTaskCompleted')} workflow tasks, ${k('activityTaskScheduled')} activity tasks, ${k('markerRecorded')} local activities, ` +
          `${k('workflowExecutionSignaled')} signals, ${k('upsertWorkflowSearchAttributes')} search-attribute upserts`,
        `    events by kind: ${Object.entries(h.breakdown)
          .map(([kind, v]) => `${kind} ${v}`)
          .join(', ')}`,
        ...Object.entries(h.taskFailures).map(([cause, n]) => `    failed workflow tasks: ${n} × ${cause}`),
      ];
    }),
    `  engine rate-limit refusals (turumba_rate_limit_hits_total, all engine legs): ${r.rateLimitHits}`,
    "  CPU ms per message by process (share of the leg's CPU):",
    ...Object.entries(r.cpu).map(
      ([leg, c]) =>
        `    ${leg.padEnd(widths[0] ?? 0)}  ${Object.entries(c.msPerMessage)
          .map(([proc, ms]) => `${proc} ${ms} (${c.share[proc]} %)`)
          .join(', ')}`,
    ),
    `  ${ACTIONS_DEFINITION}`,
    `  total run time ${r.totalSeconds.toFixed(0)} s`,
    '',
  ];
  process.stdout.write(out.join('\n'));

  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const base = join(dir, `bench-${r.quick ? 'quick-' : ''}${stamp}`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ machine: machineLine(), ...r, ratios, actionsDefinition: ACTIONS_DEFINITION }, null, 2)}\n`);
  const colors: Record<string, string> = { engine: '#2b6cb0', direct: '#718096', temporal: '#c05621' };
  const svg = barChartSvg(
    `Delivered messages/s (${r.count} per leg, concurrency ${r.concurrency})`,
    'msg/s',
    r.legs.map((l) => ({ label: l.name, value: l.perSecond, color: colors[l.name.split(' ')[0] ?? ''] ?? '#444' })),
  );
  const png = writeChart(`${base}.svg`, `${base}.png`, svg);
  process.stdout.write(`  wrote ${base}.json${png ? ` and ${png}` : ` and ${base}.svg (the PNG could not be rendered)`}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
