import { randomUUID } from 'node:crypto';
import { startJasminSimulator } from '../../sandbox/jasmin/server';
import { statusCallbackUrl } from '../../adapters/callback-token';
import { JasminSmppAdapter } from '../../adapters/smpp/jasmin';
import type { Credentials, DispatchPayload } from '../../adapters/types';
import type { ContractHarness, SendCase } from './contract-harness';
import { runAdapterContract } from './contract-suite';
import { startWebhookReceiver, webhookRequest, withQuery } from './webhook-receiver';
import { EgressPolicy } from '../../adapters/egress';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

const USER = { username: 'contract', password: 'jasmin-secret-7' };
const CHANNEL_ID = randomUUID();
const WEBHOOK_SECRET = 'contract-webhook-secret';

/** Destinations the simulator scripts (sandbox/README.md), from Ofcom's drama range. */
const TO: Record<SendCase, string> = {
  ok: '+447700900123',
  permanent: '+447700900412',
  transient: '+447700900500',
  rateLimited: '+447700900429',
};

runAdapterContract('jasmin (smpp)', async (): Promise<ContractHarness> => {
  const adapter = new JasminSmppAdapter(LOOPBACK);
  const sim = await startJasminSimulator({ users: [USER], dlrDelayMs: 10, dlrRetryDelayMs: 100 });
  const receiver = await startWebhookReceiver(adapter);
  const credentials: Credentials = { base_url: sim.url, username: USER.username, password: USER.password, from: 'TURUMBA' };
  const dlrUrl = (messageId: string) => statusCallbackUrl(receiver.url, 'smpp', CHANNEL_ID, messageId, WEBHOOK_SECRET);
  const dlr = (body: string, type = 'application/x-www-form-urlencoded') =>
    webhookRequest({ url: dlrUrl(randomUUID()), headers: { 'content-type': type }, body });
  const field = (body: unknown, name: string): unknown => (body as Record<string, unknown> | undefined)?.[name];

  return {
    adapter,
    channel: { credentials, webhookSecret: WEBHOOK_SECRET },
    badCredentials: { ...credentials, password: 'wrong-secret-99' },
    secretKeys: ['password'],
    unreachable: (port) => ({ ...credentials, base_url: `http://127.0.0.1:${port}` }),
    payload: (kind): DispatchPayload => ({ messageId: randomUUID(), to: TO[kind], body: 'Your code is 123456' }),
    context: (payload) => ({ traceId: randomUUID().replace(/-/g, ''), statusCallbackUrl: dlrUrl(payload.messageId) }),
    requestsTo: (to) => sim.requests.filter((r) => r.args.to === to.replace(/^\+/, '')).length,
    expected: {
      okStatus: 'queued',
      providerMessageId: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      permanentCode: 'jasmin_no_route',
      transientCode: 'jasmin_server_error',
      networkCode: 'network',
      rateLimitedCode: 'jasmin_throughput',
    },
    status: {
      expected: 'delivered',
      carriesMessageId: true,
      // dlr-level 2 (the adapter's default): the SMSC's terminal receipt only.
      awaitWebhook: ({ result }) => receiver.waitFor((r) => field(r.body, 'id') === result.providerMessageId && field(r.body, 'message_status') === 'DELIVRD'),
    },
    // Mobile-originated messages reach Jasmin's HTTP client connectors, never a dlr-url: out of scope.
    inbound: 'out-of-scope',
    signature: {
      // Jasmin signs nothing: what proves the call is ours is the token the engine put in the dlr-url, bound to the message id.
      otherChannel: { credentials, webhookSecret: 'another-webhook-secret' },
      tamper: (req) => withQuery(req, { message_id: randomUUID() }),
      strip: (req) => withQuery(req, { token: undefined }),
    },
    malformed: [
      { what: 'not form fields', request: dlr('id=1&message_status=DELIVRD', 'text/plain') },
      { what: 'a receipt without message_status', request: dlr(`id=${randomUUID()}&level=2`) },
      { what: 'a message_status Jasmin does not have', request: dlr(`id=${randomUUID()}&level=2&message_status=PARTYING`) },
    ],
    async close() {
      await sim.close();
      await receiver.close();
    },
  };
});
