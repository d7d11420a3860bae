import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { defaultRegistry } from '../../adapters';
import { EgressPolicy, parseAllowList } from '../../adapters/egress';
import { BENCH_EGRESS_ALLOW } from '../processes';
import type { ChannelType } from '../../lifecycle';
import type { Db } from '../../db/client';
import { createChannel } from '../../db/channels';
import { advanceStatus, insertMessage } from '../../db/messages';
import { closedLoop, legResult, waitDelivered, type LegResult } from '../engine/load';
import type { BenchChannel } from '../engine/engine-leg';
import { SMS_TO, TEMPLATE, WHATSAPP, WHATSAPP_TO, type Simulators } from '../engine/simulators';
import { startReceiver, type ReceiverChannel } from './webhook-receiver';

/**
 * Baseline A, the non-durable ceiling: the same adapters, simulators and Postgres
 * writes as the engine, driven by a plain async loop. A crash here loses every
 * in-flight message; that is what the engine's extra cost buys.
 */
export async function directLeg(
  deps: { db: Db; pool: Pool; accountId: string; sims: Simulators },
  channel: BenchChannel,
  count: number,
  concurrency: number,
  timeoutMs: number,
  /** The i-th message's address and text (SMS); default: one number, 'bench'. */
  recipient?: (i: number) => { to: string; body: string },
): Promise<LegResult> {
  // The bench's simulators listen on loopback, as the engine's EGRESS_ALLOW allows.
  const adapters = defaultRegistry(new EgressPolicy(parseAllowList(BENCH_EGRESS_ALLOW).entries));
  const channelType: ChannelType = channel;
  const provider = channel === 'sms' ? 'twilio' : 'default';
  const credentials = channel === 'sms' ? deps.sims.smsCredentials : deps.sims.whatsappCredentials;
  const row = await createChannel(deps.db, { accountId: deps.accountId, channelType, provider, name: `direct ${channel}`, credentials });
  const adapter = adapters.get(channelType, provider);
  const signingSecret = adapter.webhookSigningSecret?.(credentials) ?? row.webhookSecret;
  const channels = new Map<string, ReceiverChannel>([[row.id, { channelType, provider, signingSecret, credentials }]]);
  const receiver = await startReceiver(deps.db, adapters, channels);
  if (channel === 'whatsapp') deps.sims.graph.setWebhook('whatsapp', WHATSAPP.phoneNumberId ?? '', `${receiver.url}/webhooks/${row.id}`);
  const content = channel === 'sms' ? { to: SMS_TO, body: 'bench' } : { to: WHATSAPP_TO, template: TEMPLATE };
  const accept: number[] = [];
  const startedAt = Date.now();
  try {
    await closedLoop(count, concurrency, async (i) => {
      const t0 = performance.now();
      const traceId = randomUUID().replace(/-/g, '');
      const one = recipient && channel === 'sms' ? recipient(i) : content;
      const msg = await insertMessage(deps.db, { accountId: deps.accountId, channelId: row.id, channelType, ...one, metadata: { trace_id: traceId } });
      accept.push(performance.now() - t0);
      const result = await adapter.send({ messageId: msg.id, ...one }, credentials, {
        traceId,
        statusCallbackUrl: `${receiver.url}/webhooks/${row.id}?message_id=${msg.id}`,
      });
      await advanceStatus(deps.db, msg.id, { status: 'sent', at: new Date(), providerMessageId: result.providerMessageId, source: 'worker' });
    });
    await waitDelivered(deps.pool, row.id, count, timeoutMs);
  } finally {
    await receiver.close();
  }
  return legResult(deps.pool, { name: `direct ${channel}`, channelId: row.id, count, concurrency, startedAt, acceptMs: accept });
}
