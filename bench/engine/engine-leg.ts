import type { Pool } from 'pg';
import type { Simulators } from './simulators';
import { SMS_TO, TEMPLATE, WHATSAPP, WHATSAPP_TO } from './simulators';
import { closedLoop, legResult, waitDelivered, type LegResult } from './load';

/** The bench's view of the engine: its API over HTTP and its database for timing. */
export interface EngineTarget {
  apiUrl: string;
  apiKey: string;
  pool: Pool;
  sims: Simulators;
}

export type BenchChannel = 'sms' | 'whatsapp';

/** Above any offered load here, so the limiter never shapes the numbers. */
const RATE_LIMIT = 5000;

async function post(target: EngineTarget, path: string, body: unknown): Promise<{ status: number; json: Record<string, string> }> {
  const res = await fetch(`${target.apiUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${target.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, string> };
}

async function createChannel(target: EngineTarget, channel: BenchChannel): Promise<string> {
  const body =
    channel === 'sms'
      ? { channel_type: 'sms', provider: 'twilio', name: 'bench sms', credentials: target.sims.smsCredentials, rate_limit_per_second: RATE_LIMIT }
      : { channel_type: 'whatsapp', name: 'bench whatsapp', credentials: target.sims.whatsappCredentials, rate_limit_per_second: RATE_LIMIT };
  const res = await post(target, '/v1/channels', body);
  const id = res.json.id;
  if (res.status !== 201 || !id) throw new Error(`channel create answered ${res.status}`);
  if (channel === 'whatsapp') target.sims.graph.setWebhook('whatsapp', WHATSAPP.phoneNumberId ?? '', res.json.webhook_url ?? '');
  return id;
}

/** Full lifecycle through the engine: POST accept → workflow → simulator → signed webhook → delivered row. */
export async function engineLeg(
  target: EngineTarget,
  channel: BenchChannel,
  count: number,
  concurrency: number,
  timeoutMs: number,
): Promise<LegResult & { channelId: string; ids: string[] }> {
  const channelId = await createChannel(target, channel);
  const content = channel === 'sms' ? { to: SMS_TO, body: 'bench' } : { to: WHATSAPP_TO, template: TEMPLATE };
  const accept: number[] = [];
  const ids: string[] = [];
  let refused = 0;
  const startedAt = Date.now();
  await closedLoop(count, concurrency, async () => {
    const t0 = performance.now();
    const res = await post(target, '/v1/messages', { channel_id: channelId, ...content });
    accept.push(performance.now() - t0);
    if (res.status === 202 && res.json.id) ids.push(res.json.id);
    else refused++;
  });
  if (refused > 0) throw new Error(`${refused} of ${count} messages were not accepted`);
  await waitDelivered(target.pool, channelId, count, timeoutMs);
  const result = await legResult(target.pool, { name: `engine ${channel}`, channelId, count, concurrency, startedAt, acceptMs: accept });
  return { ...result, channelId, ids };
}
