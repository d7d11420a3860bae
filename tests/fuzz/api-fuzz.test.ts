import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from '../support/stack';
import type { FuzzRequest } from './arbitraries';
import { stateDiff, stateProbe, type DbState, type StateProbe } from './db-state';
import { createFixtures } from './fixtures';
import { hostileHtmlMessage, strayRequest, V1_ROUTES, v1Request, type Fixtures } from './v1-requests';
import { handshake, junkWebhook, signedWebhook, WEBHOOK_TYPES, type WebhookKeys } from './webhook-requests';

// Bad input against every /v1 and webhook route, on the real engine: never a 5xx,
// never a crash, and a request answered 4xx leaves every table as it was.
// FUZZ_RUNS sets the total number of requests (npm test: 1,000; the chaos run: 10,000);
// FUZZ_SEED replays a run.

const TOTAL_RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

type Arb = (f: Fixtures, k: WebhookKeys) => fc.Arbitrary<FuzzRequest>;
/** Each hostile email is retried against a closed SMTP port until it fails (~2 s): a fixed count. */
const HOSTILE_HTML_RUNS = 24;
/** The longest the worker's event loop may stall during the run (nodejs_eventloop_lag_max_seconds). */
const MAX_EVENT_LOOP_STALL_SECONDS = 1;
const BIG = new Set(['POST /v1/messages', 'POST /v1/group-messages', 'POST /v1/channels', 'POST /v1/group-messages/:id/recipients']);
const PROPERTIES: Array<{ name: string; weight: number; arb: Arb }> = [
  ...V1_ROUTES.map((r) => ({ name: r.name, weight: BIG.has(r.name) ? 3 : 1, arb: (f: Fixtures) => v1Request(r, f) })),
  { name: 'unrouted paths', weight: 1, arb: (f) => strayRequest(f) },
  ...WEBHOOK_TYPES.map((t) => ({
    name: `signed ${t} webhook`,
    weight: t === 'whatsapp' || t === 'messenger' ? 3 : 2,
    arb: (_f: Fixtures, k: WebhookKeys) => signedWebhook(t, k),
  })),
  { name: 'signed ses webhook', weight: 2, arb: (_f, k) => signedWebhook('ses', k) },
  { name: 'whatsapp handshake', weight: 1, arb: (_f, k) => handshake('whatsapp', k) },
  { name: 'messenger handshake', weight: 1, arb: (_f, k) => handshake('messenger', k) },
  { name: 'unsigned and misaddressed webhooks', weight: 4, arb: (_f, k) => junkWebhook(k) },
];
const WEIGHTS = PROPERTIES.reduce((a, p) => a + p.weight, 0);
const runsFor = (weight: number) => Math.max(10, Math.ceil((TOTAL_RUNS * weight) / WEIGHTS));

describe(`API fuzz: ${TOTAL_RUNS} generated requests, seed ${SEED}`, () => {
  let stack: TestStack;
  let fixtures: Fixtures;
  let keys: WebhookKeys;
  let probe: StateProbe;
  let baseline: DbState;
  const tally = new Map<string, Map<number, number>>();
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);

  /**
   * Waits until nothing of the fuzz accounts is in flight (no open message, no running
   * group, no running workflow: visibility lags, the rows do not) and the tables hold still.
   */
  const settle = async (): Promise<DbState> => {
    const accounts = fixtures.accountIds.map((id) => `"${id}"`).join(', ');
    const deadline = Date.now() + 60_000;
    let prev = await probe.snapshot();
    let stable = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 60));
      const open = await stack.database.pool.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM messages WHERE account_id = ANY($1::uuid[]) AND status IN ('queued', 'sending', 'sent'))
              + (SELECT count(*) FROM group_messages WHERE account_id = ANY($1::uuid[]) AND status = 'running') AS n`,
        [fixtures.accountIds],
      );
      const running = await stack.temporal.workflow.count(`AccountId IN (${accounts}) AND ExecutionStatus = "Running"`);
      const cur = await probe.snapshot();
      const busy = Number(open.rows[0]?.n ?? 0) + running.count;
      stable = busy === 0 && stateDiff(prev, cur).length === 0 ? stable + 1 : 0;
      if (stable >= 2) return cur;
      if (Date.now() > deadline) throw new Error(`state did not settle within 60 s (${busy} messages, groups or workflows in flight)`);
      prev = cur;
    }
  };

  const fire = async (req: FuzzRequest): Promise<void> => {
    const res = await stack.app.inject({ method: req.method, url: req.url, headers: req.headers, payload: req.payload });
    const counts = tally.get(req.route) ?? new Map<number, number>();
    counts.set(res.statusCode, (counts.get(res.statusCode) ?? 0) + 1);
    tally.set(req.route, counts);
    if (res.statusCode >= 500) {
      const logged = stack.logs.filter((l) => l.event === 'request_failed').at(-1)?.err as { stack?: string } | undefined;
      baseline = await settle();
      throw new Error(`${res.statusCode} ${res.body.slice(0, 300)}\n${logged?.stack?.split('\n').slice(0, 8).join('\n') ?? ''}`);
    }
    if (req.url.startsWith('/v1') && res.statusCode >= 400) {
      const body = res.json<{ error?: unknown; message?: unknown }>();
      if (typeof body.error !== 'string' || typeof body.message !== 'string')
        throw new Error(`${res.statusCode} without {error, message}: ${res.body.slice(0, 200)}`);
    }
    if (res.statusCode < 300 && req.mutating) {
      baseline = await settle();
      return;
    }
    const after = await probe.snapshot();
    const changed = stateDiff(baseline, after);
    if (changed.length > 0) {
      baseline = await settle();
      throw new Error(`${res.statusCode} to a request that may not change state changed ${changed.join('; ')}`);
    }
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onCrash);
    process.on('uncaughtException', onCrash);
    stack = await startStack({ logLevel: 'warn', workerProcessMetrics: true });
    ({ fixtures, keys } = await createFixtures(stack));
    probe = await stateProbe(stack.database.pool, fixtures.accountIds);
    baseline = await settle();
    process.stdout.write(`api fuzz: seed ${SEED} (FUZZ_SEED=${SEED} replays it), ${TOTAL_RUNS} requests\n`);
  });

  afterAll(async () => {
    process.off('unhandledRejection', onCrash);
    process.off('uncaughtException', onCrash);
    const lines = [...tally].map(
      ([route, counts]) =>
        `  ${route.padEnd(44)} ${[...counts]
          .sort(([a], [b]) => a - b)
          .map(([s, n]) => `${s}×${n}`)
          .join(' ')}`,
    );
    process.stdout.write(`api fuzz responses by route:\n${lines.join('\n')}\n`);
    await stack?.close();
  });

  it('covers every route the app has', () => {
    const listed = new Set(V1_ROUTES.map((r) => r.name));
    const registered = routesOf(stack.app.printRoutes({ commonPrefix: false })).filter((r) => r.includes(' /v1/'));
    expect(registered).toContain('POST /v1/messages');
    expect(registered.filter((r) => !listed.has(r))).toEqual([]);
    expect(probe.unscoped).toEqual([]);
  });

  it(
    'hostile email HTML: accepted, sent (and failed at the closed SMTP port) without stalling the worker',
    async () => {
      const before = await stack.app.inject({ method: 'GET', url: '/ready' });
      expect(before.statusCode).toBe(200);
      await fc.assert(
        fc.asyncProperty(hostileHtmlMessage(fixtures).map(summarised), async (req) => {
          const res = await stack.app.inject({ method: req.method, url: req.url, headers: req.headers, payload: req.payload });
          const counts = tally.get(req.route) ?? new Map<number, number>();
          counts.set(res.statusCode, (counts.get(res.statusCode) ?? 0) + 1);
          tally.set(req.route, counts);
          expect(res.statusCode, res.body.slice(0, 300)).toBe(202);
          baseline = await settle();
          const row = await stack.database.pool.query<{ status: string; error_code: string | null }>('SELECT status, error_code FROM messages WHERE id = $1', [
            res.json<{ id: string }>().id,
          ]);
          // The closed port is the only reason it fails: the conversion itself never does.
          expect(row.rows[0]).toMatchObject({ status: 'failed' });
          expect(row.rows[0]?.error_code).not.toMatch(/html|render|internal/i);
        }),
        { seed: SEED - 1, numRuns: HOSTILE_HTML_RUNS, endOnFailure: true },
      );
    },
    HOSTILE_HTML_RUNS * 30_000,
  );

  for (const [i, p] of PROPERTIES.entries()) {
    it(
      `${p.name}: no 5xx, no state change without a 2xx`,
      async () => {
        await fc.assert(fc.asyncProperty(p.arb(fixtures, keys).map(summarised), fire), { seed: SEED + i, numRuns: runsFor(p.weight), endOnFailure: false });
      },
      Math.max(120_000, runsFor(p.weight) * 2_000),
    );
  }

  it('got past auth and signatures into every handler, and is still up', async () => {
    const seen = (route: string, ok: (status: number) => boolean) => [...(tally.get(route) ?? new Map<number, number>()).keys()].some(ok);
    for (const r of V1_ROUTES)
      expect(
        seen(r.name, (s) => s !== 401),
        `${r.name} answered only 401`,
      ).toBe(true);
    for (const t of [...WEBHOOK_TYPES, 'ses']) {
      expect(
        seen(`signed ${t}`, (s) => s < 300),
        `signed ${t} webhooks never succeeded`,
      ).toBe(true);
      if (t !== 'ses')
        expect(
          seen(`signed ${t}`, (s) => s === 400),
          `signed ${t} webhooks never reached a parser error`,
        ).toBe(true);
    }
    const total = [...tally.values()].reduce((a, m) => a + [...m.values()].reduce((x, y) => x + y, 0), 0);
    expect(total).toBeGreaterThanOrEqual(TOTAL_RUNS);
    expect(crashes).toEqual([]);
    expect((await stack.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
  });

  it(`the worker's event loop never stalled over ${MAX_EVENT_LOOP_STALL_SECONDS} s during the run`, async () => {
    // The gauge holds the longest delay since the last collection, and nothing collected it before.
    const metrics = await stack.workerMetrics.registry.getMetricsAsJSON();
    const lag = metrics.find((m) => m.name === 'nodejs_eventloop_lag_max_seconds')?.values[0]?.value;
    expect(lag, 'nodejs_eventloop_lag_max_seconds is collected').toBeTypeOf('number');
    process.stdout.write(`api fuzz: worker event-loop lag max ${String(lag)} s\n`);
    expect(lag).toBeLessThan(MAX_EVENT_LOOP_STALL_SECONDS);
  });
});

/** fast-check prints a counterexample; a megabyte body would bury the reason. */
function summarised(req: FuzzRequest): FuzzRequest {
  const cut = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…(${s.length} chars)` : s);
  const body = req.payload === undefined ? '' : Buffer.isBuffer(req.payload) ? `<${req.payload.length} bytes>` : cut(JSON.stringify(req.payload));
  return Object.assign(req, { [fc.toStringMethod]: () => `${req.method} ${cut(req.url)} ${cut(JSON.stringify(req.headers))} ${body}` });
}

/** "METHOD /path" for every route in fastify's printRoutes({ commonPrefix: false }) tree. */
function routesOf(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[└├]── (\S+) \(([^)]+)\)/.exec(line) ?? /^([│ ]*)[└├]── (\S+)/.exec(line);
    if (!m) continue;
    const depth = (m[1] ?? '').length / 4;
    stack.length = depth;
    stack[depth] = m[2] ?? '';
    const methods = /\(([^)]+)\)/.exec(line)?.[1];
    if (methods) for (const method of methods.split(', ')) if (method !== 'HEAD') out.push(`${method} ${stack.join('').replace(/(.)\/$/, '$1')}`);
  }
  return [...new Set(out)];
}
