import { parseArgs } from 'node:util';
import { twilioSignature } from '../sandbox/twilio/wire';
import { connect } from '../db/client';
import { createAccount, createApiKey } from '../db/repo';
import { startTwilioSimulator } from '../sandbox/twilio/server';
import { startInfra } from '../tests/support/infra';
import { eventually } from '../tests/support/stack';
import { machineLine, percentile } from './machine';
import { startEngine } from './processes';

// Webhook latency under a steady 1,000 signed Twilio status callbacks per second
// (open loop: requests are fired on schedule whatever the answers do), over HTTP,
// against the real route: the forward-only UPDATE on the row, and a Temporal signal only for the
// receipt that ends a message's wait.

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '30' }, messages: { type: 'string', default: '500' } },
  });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const messageCount = Number(values.messages);

  const running = await startInfra({ name: 'bench' });
  const account = { sid: `AC${'b'.repeat(32)}`, apiKey: `SK${'b'.repeat(32)}`, apiSecret: 'bench-secret', authToken: 'bench-auth-token' };
  const twilioSim = await startTwilioSimulator({ accounts: [account] });
  const engine = await startEngine({ ...running.infra, stopOnSignal: [running.temporal.process] });
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
      credentials: { account_sid: account.sid, api_key: account.apiKey, api_secret: account.apiSecret, auth_token: account.authToken, from: '+15017122661', base_url: twilioSim.url },
    });
    const channelId = channel.id ?? '';
    const ids: string[] = [];
    for (let i = 0; i < messageCount; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, messageCount - i) }, () => api('/v1/messages', { channel_id: channelId, to: '+15005550605', body: 'bench' }).then((r) => r.id ?? '')),
      );
      ids.push(...batch);
    }
    const pids = await eventually(async () => {
      const r = await database.pool.query<{ id: string; pid: string }>(
        `SELECT id, metadata_->>'provider_message_id' AS pid FROM messages WHERE id = ANY($1::uuid[]) AND status = 'sent'`,
        [ids],
      );
      return r.rows.length === ids.length ? r.rows : undefined;
    }, 300_000, 500);
    const targets = pids.map((row) => {
      const url = twilioSim.requests.find((r) => (r.form.StatusCallback ?? '').includes(row.id))?.form.StatusCallback ?? '';
      return { url, pid: row.pid };
    });

    const statuses = ['sent', 'delivered', 'delivered', 'read'];
    const RANK: Record<string, number> = { sent: 2, delivered: 3, read: 4 };
    // The highest status each message was sent a callback for: where its row must end.
    const highest = new Map<string, string>();
    const total = rate * seconds;
    const latencies: number[] = [];
    const codes = new Map<number, number>();
    let fired = 0;
    const start = performance.now();
    const inflight = new Set<Promise<void>>();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
        for (; fired < due; fired++) {
          const t = targets[fired % targets.length];
          if (!t) continue;
          const params = {
            MessageSid: t.pid,
            SmsSid: t.pid,
            AccountSid: account.sid,
            From: '+15017122661',
            To: '+15005550605',
            MessageStatus: statuses[fired % statuses.length] ?? 'delivered',
            ApiVersion: '2010-04-01',
          };
          const before = highest.get(t.pid);
          if (!before || (RANK[params.MessageStatus] ?? 0) > (RANK[before] ?? 0)) highest.set(t.pid, params.MessageStatus);
          const t0 = performance.now();
          const p = fetch(t.url, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(account.authToken, t.url, params) },
            body: new URLSearchParams(params).toString(),
          })
            .then(async (res) => {
              await res.arrayBuffer();
              latencies.push(performance.now() - t0);
              codes.set(res.status, (codes.get(res.status) ?? 0) + 1);
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
    latencies.sort((a, b) => a - b);
    const metricsText = await (await fetch(`${engine.apiUrl}/metrics`)).text();
    const metric = (name: string) =>
      metricsText.split('\n').filter((l) => l.startsWith(name)).reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
    const ended = await database.pool.query<{ pid: string; status: string }>(
      `SELECT metadata_->>'provider_message_id' AS pid, status FROM messages WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const wrong = ended.rows.filter((r) => highest.has(r.pid) && highest.get(r.pid) !== r.status).length;
    const sum = metric('turumba_webhook_response_seconds_sum');
    const count = metric('turumba_webhook_response_seconds_count');
    const rows = [
      ['machine', machineLine()],
      ['offered load', `${rate}/s for ${seconds} s (${total} signed callbacks over HTTP, ${targets.length} messages)`],
      ['achieved', `${(latencies.length / elapsed).toFixed(0)}/s`],
      ['achieved / offered', `${((latencies.length / elapsed / rate) * 100).toFixed(1)} %`],
      ['responses', JSON.stringify(Object.fromEntries(codes))],
      ['failed requests', `${(codes.get(0) ?? 0) + [...codes].filter(([c]) => c >= 500).reduce((a, [, n]) => a + n, 0)} (no connection or 5xx)`],
      ['rows at their highest', `${ended.rows.length - wrong} of ${ended.rows.length} messages end at the highest status they were sent`],
      ['client latency p50', `${percentile(latencies, 50).toFixed(2)} ms`],
      ['client latency p99', `${percentile(latencies, 99).toFixed(2)} ms`],
      ['client latency max', `${(latencies.at(-1) ?? NaN).toFixed(2)} ms`],
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
