import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { twilioSignature } from '../sandbox/twilio/wire';
import { connect } from '../db/client';
import { createAccount } from '../db/accounts';
import { createApiKey } from '../db/api-keys';
import { startTwilioSimulator } from '../sandbox/twilio/server';
import { startInfra } from '../tests/support/infra';
import { eventually } from '../tests/support/stack';
import { cpuPerMessage, sampleCpu } from './engine/cpu';
import { machineLine, percentile } from './machine';
import { startEngine } from './processes';

// Webhook latency under a steady 1,000 signed Twilio status callbacks per second
// (open loop: requests are fired on schedule whatever the answers do), over HTTP,
// against the real route: the forward-only UPDATE on the row, and a Temporal signal only for the
// receipt that ends a message's wait.

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '30' },
      messages: { type: 'string', default: '500' },
      connections: { type: 'string', default: '256' },
    },
  });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const messageCount = Number(values.messages);

  const running = await startInfra({ name: 'bench' });
  const account = { sid: `AC${'b'.repeat(32)}`, apiKey: `SK${'b'.repeat(32)}`, apiSecret: 'bench-secret', authToken: 'bench-auth-token' };
  const twilioSim = await startTwilioSimulator({ accounts: [account] });
  const engine = await startEngine({ ...running.infra, stopOnSignal: [running.temporal.process] }).catch(async (err: unknown) => {
    await twilioSim.close();
    await running.stop();
    throw err;
  });
  const database = connect(running.infra.databaseUrl, { max: 4 });
  try {
    const acct = await createAccount(database.db, 'bench');
    const { key } = await createApiKey(database.db, acct.id);
    const api = async (path: string, body: unknown) => {
      const res = await fetch(`${engine.apiUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await res.json()) as Record<string, string>;
    };
    const channel = await api('/v1/channels', {
      channel_type: 'sms',
      provider: 'twilio',
      name: 'bench',
      credentials: {
        account_sid: account.sid,
        api_key: account.apiKey,
        api_secret: account.apiSecret,
        auth_token: account.authToken,
        from: '+15017122661',
        base_url: twilioSim.url,
      },
    });
    const channelId = channel.id ?? '';
    const ids: string[] = [];
    for (let i = 0; i < messageCount; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, messageCount - i) }, () =>
          api('/v1/messages', { channel_id: channelId, to: '+15005550605', body: 'bench' }).then((r) => r.id ?? ''),
        ),
      );
      ids.push(...batch);
    }
    const pids = await eventually(
      async () => {
        const r = await database.pool.query<{ id: string; pid: string }>(
          `SELECT id, metadata_->>'provider_message_id' AS pid FROM messages WHERE id = ANY($1::uuid[]) AND status = 'sent'`,
          [ids],
        );
        return r.rows.length === ids.length ? r.rows : undefined;
      },
      300_000,
      500,
    );
    const targets = pids.map((row) => {
      const url = twilioSim.requests.find((r) => (r.form.StatusCallback ?? '').includes(row.id))?.form.StatusCallback ?? '';
      return { url, pid: row.pid };
    });

    const statuses = ['sent', 'delivered', 'delivered', 'read'];
    const RANK: Record<string, number> = { sent: 2, delivered: 3, read: 4 };
    // Each (message, status) callback is signed once, up front: the load generator shares the
    // machine with the engine, and its own CPU per request is what it takes from the route.
    const signed = new Map<string, { path: string; headers: Record<string, string | number>; body: string }>();
    const signedFor = (t: { pid: string; url: string }, status: string) => {
      const key = `${t.pid} ${status}`;
      let req = signed.get(key);
      if (!req) {
        const params = {
          MessageSid: t.pid,
          SmsSid: t.pid,
          AccountSid: account.sid,
          From: '+15017122661',
          To: '+15005550605',
          MessageStatus: status,
          ApiVersion: '2010-04-01',
        };
        const body = new URLSearchParams(params).toString();
        const url = new URL(t.url);
        req = {
          path: `${url.pathname}${url.search}`,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
            'x-twilio-signature': twilioSignature(account.authToken, t.url, params),
          },
          body,
        };
        signed.set(key, req);
      }
      return req;
    };
    const callback = (n: number) => {
      const t = targets[n % targets.length];
      const status = statuses[n % statuses.length] ?? 'delivered';
      return t ? { pid: t.pid, status, req: signedFor(t, status) } : undefined;
    };
    const apiTarget = new URL(engine.apiUrl);
    // A provider calls back over a bounded set of keep-alive connections, as Twilio's senders do.
    const agent = new Agent({ keepAlive: true, maxSockets: Number(values.connections) });
    const post = (req: { path: string; headers: Record<string, string | number>; body: string }) =>
      new Promise<number>((resolve, reject) => {
        const r = request({ host: apiTarget.hostname, port: apiTarget.port, method: 'POST', path: req.path, headers: req.headers, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        });
        r.on('error', reject);
        r.end(req.body);
      });
    for (let n = 0; n < targets.length * statuses.length; n++) callback(n);
    // Warm-up, not counted: one `sent` per message, which every row already holds (the route's
    // code paths compiled, its connections and prepared statements made). No row or workflow changes.
    const warmUp = await Promise.all(targets.map((t) => post(signedFor(t, 'sent')).catch(() => 0)));
    if (warmUp.some((code) => code !== 204))
      throw new Error(`warm-up callbacks were not all answered 204: ${JSON.stringify(warmUp.filter((c) => c !== 204).slice(0, 5))}`);
    // The highest status each message was sent a callback for: where its row must end.
    const highest = new Map<string, string>();
    const total = rate * seconds;
    const latencies: number[] = [];
    const codes = new Map<number, number>();
    let fired = 0;
    const groups = {
      api: { roots: [engine.api.pid ?? -1] },
      worker: { roots: [engine.worker.pid ?? -1] },
      temporal: { roots: [running.temporal.process.pid ?? -1] },
      postgres: { comm: 'postgres' },
      bench: { pid: process.pid },
    };
    const cpuBefore = sampleCpu(groups);
    const start = performance.now();
    const inflight = new Set<Promise<void>>();
    const perSecond: [number, number][] = [];
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
        for (; fired < due; fired++) {
          const c = callback(fired);
          if (!c) continue;
          const before = highest.get(c.pid);
          if (!before || (RANK[c.status] ?? 0) > (RANK[before] ?? 0)) highest.set(c.pid, c.status);
          // Latency counts from the moment the callback was due (open loop: no coordinated omission).
          const dueAt = start + (fired / rate) * 1000;
          const p = post(c.req)
            .then((status) => {
              latencies.push(performance.now() - dueAt);
              perSecond.push([Math.floor((dueAt - start) / 1000), performance.now() - dueAt]);
              codes.set(status, (codes.get(status) ?? 0) + 1);
            })
            .catch(() => {
              codes.set(0, (codes.get(0) ?? 0) + 1);
            })
            .finally(() => inflight.delete(p));
          inflight.add(p);
        }
        if (fired >= total) {
          clearInterval(tick);
          resolve();
        }
      }, 5);
    });
    await Promise.all(inflight);
    const elapsed = (performance.now() - start) / 1000;
    // Where the tail sits: the worst latency of the callbacks due in each second of the run.
    const worst = new Map<number, number>();
    for (const [sec, l] of perSecond) worst.set(sec, Math.max(worst.get(sec) ?? 0, l));
    const worstBySecond = [...worst]
      .sort((a, b) => a[0] - b[0])
      .map(([k, v]) => `${k}:${v.toFixed(0)}`)
      .join(' ');
    const cpu = cpuPerMessage(cpuBefore, sampleCpu(groups), total);
    latencies.sort((a, b) => a - b);
    const metricsText = await (await fetch(engine.apiMetricsUrl)).text();
    const metric = (name: string) =>
      metricsText
        .split('\n')
        .filter((l) => l.startsWith(name))
        .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
    const ended = await database.pool.query<{ pid: string; status: string }>(
      `SELECT metadata_->>'provider_message_id' AS pid, status FROM messages WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const wrong = ended.rows.filter((r) => highest.has(r.pid) && highest.get(r.pid) !== r.status).length;
    const sum = metric('turumba_webhook_response_seconds_sum');
    const count = metric('turumba_webhook_response_seconds_count');
    const rows = [
      ['machine', machineLine()],
      [
        'offered load',
        `${rate}/s for ${seconds} s (${total} signed callbacks over HTTP, ${targets.length} messages, at most ${values.connections} connections; after ${targets.length} uncounted warm-up callbacks)`,
      ],
      ['achieved', `${(latencies.length / elapsed).toFixed(0)}/s`],
      ['achieved / offered', `${((latencies.length / elapsed / rate) * 100).toFixed(1)} %`],
      ['responses', JSON.stringify(Object.fromEntries(codes))],
      ['failed requests', `${(codes.get(0) ?? 0) + [...codes].filter(([c]) => c >= 500).reduce((a, [, n]) => a + n, 0)} (no connection or 5xx)`],
      ['rows at their highest', `${ended.rows.length - wrong} of ${ended.rows.length} messages end at the highest status they were sent`],
      ['client latency p50', `${percentile(latencies, 50).toFixed(2)} ms`],
      ['client latency p99', `${percentile(latencies, 99).toFixed(2)} ms`],
      ['client latency max', `${(latencies.at(-1) ?? NaN).toFixed(2)} ms`],
      ['worst by second', `${worstBySecond} ms (second:latency)`],
      [
        'CPU per callback',
        Object.entries(cpu.msPerMessage)
          .map(([k, v]) => `${k} ${v.toFixed(2)} ms`)
          .join(', '),
      ],
      ['server handler mean', `${count ? ((sum / count) * 1000).toFixed(2) : 'n/a'} ms (turumba_webhook_response_seconds)`],
    ];
    process.stdout.write(`\nwebhook bench\n${rows.map(([k, v]) => `  ${(k ?? '').padEnd(22)} ${v}`).join('\n')}\n`);
  } finally {
    await engine.stop();
    await database.close();
    await twilioSim.close();
    await running.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
