import { randomUUID } from 'node:crypto';
import { startJasminSimulator } from '../../sandbox/jasmin/server';
import { JasminSmppAdapter } from '../../adapters/smpp/jasmin';
import type { Credentials, DispatchPayload } from '../../adapters/types';
import { LOOPBACK, scripted, tokenCallbackRig, type ContractHarness } from './contract-harness';
import { runAdapterContract } from './contract-suite';
import { webhookRequest, withQuery } from './webhook-receiver';

const USER = { username: 'contract', password: 'jasmin-secret-7' };

runAdapterContract('jasmin (smpp)', async (): Promise<ContractHarness> => {
  const adapter = new JasminSmppAdapter(LOOPBACK);
  const sim = await startJasminSimulator({ users: [USER], dlrDelayMs: 10, dlrRetryDelayMs: 100 });
  const { receiver, webhookSecret, messageUrl: dlrUrl, context } = await tokenCallbackRig(adapter, 'smpp');
  const credentials: Credentials = { base_url: sim.url, username: USER.username, password: USER.password, from: 'TURUMBA' };
  const dlr = (body: string, type = 'application/x-www-form-urlencoded') =>
    webhookRequest({ url: dlrUrl(randomUUID()), headers: { 'content-type': type }, body });
  const field = (body: unknown, name: string): unknown => (body as Record<string, unknown> | undefined)?.[name];

  return {
    adapter,
    channel: { credentials, webhookSecret },
    badCredentials: { ...credentials, password: 'wrong-secret-99' },
    secretKeys: ['password'],
    unreachable: (port) => ({ ...credentials, base_url: `http://127.0.0.1:${port}` }),
    recipients: scripted('+447700900123', '+447700900412', '+447700900500', '+447700900429'),
    payload: (to): DispatchPayload => ({ messageId: randomUUID(), to, body: 'Your code is 123456' }),
    context,
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
