import { randomUUID } from 'node:crypto';
import { CallbackDispatcher } from '../../sandbox/twilio/callbacks';
import { startTwilioSimulator } from '../../sandbox/twilio/server';
import { newSid } from '../../sandbox/twilio/wire';
import { TwilioSmsAdapter } from '../../adapters/sms/twilio';
import type { Credentials, DispatchPayload } from '../../adapters/types';
import { LOOPBACK, scripted, tokenCallbackRig, type ContractHarness } from './contract-harness';
import { runAdapterContract } from './contract-suite';
import { replaceInBody, webhookRequest, withoutHeader } from './webhook-receiver';

const ACCOUNT = {
  sid: 'AC5ef8732a3c49700934481addd5ce1659',
  apiKey: 'SK2a0747eba6abf96b7e3c3ff0b4530f6e',
  apiSecret: 'contract-api-secret',
  authToken: 'contract-auth-token',
};
const FROM = '+15017122661';

runAdapterContract('twilio (sms)', async (): Promise<ContractHarness> => {
  const adapter = new TwilioSmsAdapter(LOOPBACK);
  const sim = await startTwilioSimulator({ accounts: [ACCOUNT], callbackDelayMs: 10 });
  const { receiver, webhookSecret, channelUrl, context } = await tokenCallbackRig(adapter, 'sms');
  const inboundPoster = new CallbackDispatcher(() => undefined);
  const credentials: Credentials = {
    account_sid: ACCOUNT.sid,
    api_key: ACCOUNT.apiKey,
    api_secret: ACCOUNT.apiSecret,
    auth_token: ACCOUNT.authToken,
    from: FROM,
    base_url: sim.url,
  };
  const form = (req: { body: unknown }): Record<string, string | undefined> => req.body as Record<string, string | undefined>;

  return {
    adapter,
    channel: { credentials, webhookSecret },
    badCredentials: { ...credentials, api_secret: 'wrong-api-secret' },
    secretKeys: ['api_secret', 'auth_token'],
    unreachable: (port) => ({ ...credentials, base_url: `http://127.0.0.1:${port}` }),
    recipients: scripted('+14155550171', '+15005550001', '+15005550500', '+15005550429'),
    payload: (to): DispatchPayload => ({ messageId: randomUUID(), to, body: 'Your code is 123456' }),
    context,
    requestsTo: (to) => sim.requests.filter((r) => r.form.To === to).length,
    expected: {
      okStatus: 'queued',
      providerMessageId: /^SM[0-9a-f]{32}$/,
      permanentCode: '21211',
      transientCode: 'http_503',
      networkCode: 'network',
      rateLimitedCode: '20429',
      retryAfterMs: 2_000,
    },
    status: {
      expected: 'delivered',
      carriesMessageId: true,
      awaitWebhook: ({ result }) => receiver.waitFor((r) => form(r).MessageSid === result.providerMessageId && form(r).MessageStatus === 'delivered'),
    },
    inbound: {
      // The simulator has no inbound scenario; its own signer posts the fields Twilio documents for an incoming SMS.
      async simulate() {
        const sid = newSid('SM');
        const params = {
          ToCountry: 'US',
          ToState: 'CA',
          SmsMessageSid: sid,
          NumMedia: '0',
          ToCity: 'SAN FRANCISCO',
          FromZip: '94105',
          SmsSid: sid,
          FromState: 'CA',
          SmsStatus: 'received',
          FromCity: 'SAN FRANCISCO',
          Body: 'STOP? No — thanks, got it',
          FromCountry: 'US',
          To: FROM,
          ToZip: '94105',
          NumSegments: '1',
          MessageSid: sid,
          AccountSid: ACCOUNT.sid,
          From: '+14155550172',
          ApiVersion: '2010-04-01',
        };
        await inboundPoster.deliver(channelUrl, params, ACCOUNT.authToken);
        const request = await receiver.waitFor((r) => form(r).MessageSid === sid);
        return { request, expected: { providerMessageId: sid, from: params.From, to: FROM, body: params.Body } };
      },
    },
    signature: {
      otherChannel: { credentials: { ...credentials, auth_token: 'another-channels-auth-token' }, webhookSecret: 'another-webhook-secret' },
      tamper: (req) => replaceInBody(req, 'MessageStatus=delivered', 'MessageStatus=undelivered'),
      strip: (req) => withoutHeader(req, 'x-twilio-signature'),
    },
    malformed: [
      {
        what: 'not form fields',
        request: webhookRequest({ url: channelUrl, headers: { 'content-type': 'text/plain' }, body: 'hello' }),
      },
      {
        what: 'status callback without MessageSid',
        request: webhookRequest({
          url: channelUrl,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'MessageStatus=delivered&To=%2B14155550171',
        }),
      },
      {
        what: 'a status Twilio does not have',
        request: webhookRequest({
          url: channelUrl,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `MessageSid=${newSid('SM')}&MessageStatus=exploded`,
        }),
      },
      {
        what: 'inbound message without From',
        request: webhookRequest({
          url: channelUrl,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `MessageSid=${newSid('SM')}&SmsStatus=received&Body=hi`,
        }),
      },
    ],
    async close() {
      inboundPoster.close();
      await sim.close();
      await receiver.close();
    },
  };
});
