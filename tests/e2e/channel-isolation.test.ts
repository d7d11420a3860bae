import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGraphSimulator, type GraphSimApp, type GraphSimulator } from '../../sandbox/graph/server';
import { eventually, startStack, type TestStack } from '../support/stack';

// A message's send is a local activity of its workflow task, on its channel type's own task
// queue and worker: a provider that hangs fills only its own type's slots.

const SLOTS = 2;
const APP: GraphSimApp = { accessToken: 'iso-token', appSecret: 'iso-app-secret', phoneNumberId: '106540352242977', displayPhoneNumber: '15550100077' };

describe('channel types are isolated from each other', () => {
  let stack: TestStack;
  let graph: GraphSimulator;

  beforeAll(async () => {
    stack = await startStack({ env: { SENDS_PER_CHANNEL_TYPE: String(SLOTS) } });
    graph = await startGraphSimulator({ apps: [APP], callbackDelayMs: 20 });
  });
  afterAll(async () => {
    stack?.twilio.setMode({ timeoutRate: 0 });
    await graph?.close();
    await stack?.close();
  });

  it('a hanging SMS provider holds only the SMS slots: a WhatsApp message is delivered meanwhile', async () => {
    const smsChannel = await stack.createSmsChannel({ credentials: { ...stack.twilioCredentials, timeout_ms: '8000' } });
    const wa = await stack.createChannel({
      channel_type: 'whatsapp',
      name: 'isolation whatsapp',
      credentials: { access_token: APP.accessToken, phone_number_id: APP.phoneNumberId ?? '', app_secret: APP.appSecret, base_url: graph.url },
    });
    graph.setWebhook('whatsapp', APP.phoneNumberId ?? '', wa.webhook_url);

    stack.twilio.setMode({ timeoutRate: 1 });
    const sms = await Promise.all(
      Array.from(
        { length: SLOTS * 2 },
        async (_v, i) => (await stack.sendMessage({ channel_id: smsChannel, to: `+1555123${String(9100 + i)}`, body: 'stuck' })).body.id ?? '',
      ),
    );
    // Every SMS slot is taken by a provider call that does not answer.
    const smsCalls = () => stack.twilio.requests.filter((r) => sms.some((id) => (r.form.StatusCallback ?? '').includes(id))).length;
    await eventually(async () => (smsCalls() === SLOTS ? true : undefined), 10_000);

    const started = Date.now();
    const accepted = await stack.sendMessage({
      channel_id: wa.id,
      to: '+15551239200',
      template: { name: 'order_update', language: 'en_US', variables: { '1': 'Ada' } },
    });
    expect(accepted.status).toBe(202);
    const delivered = await eventually(async () => {
      const m = (await stack.getMessage(accepted.body.id ?? '')).body;
      return m.status === 'delivered' || m.status === 'read' ? m : undefined;
    }, 6_000);
    expect(delivered.provider_message_id).toBeTruthy();
    const waitedMs = Date.now() - started;
    // Meanwhile no SMS got through and no SMS call beyond the slots was made.
    expect(smsCalls()).toBe(SLOTS);
    const smsStatuses = await Promise.all(sms.map(async (id) => (await stack.getMessage(id)).body.status));
    expect(smsStatuses.filter((s) => s !== 'queued' && s !== 'sending')).toEqual([]);
    console.info(`[measure] whatsapp delivered in ${waitedMs} ms while ${SLOTS} SMS sends hung`);

    // The provider recovers: the SMS go out on their retries, each sent and delivered.
    stack.twilio.setMode({ timeoutRate: 0 });
    await Promise.all(sms.map((id) => stack.waitForStatus(id, 'delivered', 90_000)));
  }, 150_000);
});
