import { startGraphSimulator, type GraphSimApp, type GraphSimulator } from '../../sandbox/graph/server';
import { startTwilioSimulator, type TwilioSimAccount, type TwilioSimulator } from '../../sandbox/twilio/server';

// One pair of simulators serves every leg, so engine and baseline talk to the same provider side.

export const TWILIO: TwilioSimAccount = {
  sid: `AC${'b'.repeat(32)}`,
  apiKey: `SK${'b'.repeat(32)}`,
  apiSecret: 'bench-api-secret',
  authToken: 'bench-auth-token',
};
export const WHATSAPP: GraphSimApp = {
  accessToken: 'bench-whatsapp-token',
  appSecret: 'bench-whatsapp-secret',
  phoneNumberId: '106540352242999',
  displayPhoneNumber: '15550100099',
};
export const TEMPLATE = { name: 'order_update', language: 'en_US', variables: { '1': 'Ada' } };
/** Unscripted numbers: the simulators answer queued → sent → delivered (templates need no WhatsApp window). */
export const SMS_TO = '+16505550123';
export const WHATSAPP_TO = '+16505550100';

export interface Simulators {
  twilio: TwilioSimulator;
  graph: GraphSimulator;
  smsCredentials: Record<string, string>;
  whatsappCredentials: Record<string, string>;
  close(): Promise<void>;
}

export async function startSimulators(callbackDelayMs: number): Promise<Simulators> {
  const twilio = await startTwilioSimulator({ accounts: [TWILIO], callbackDelayMs });
  const graph = await startGraphSimulator({ apps: [WHATSAPP], callbackDelayMs });
  return {
    twilio,
    graph,
    smsCredentials: {
      account_sid: TWILIO.sid,
      api_key: TWILIO.apiKey,
      api_secret: TWILIO.apiSecret,
      auth_token: TWILIO.authToken,
      from: '+15017122661',
      base_url: twilio.url,
    },
    whatsappCredentials: {
      access_token: WHATSAPP.accessToken,
      phone_number_id: WHATSAPP.phoneNumberId ?? '',
      app_secret: WHATSAPP.appSecret,
      base_url: graph.url,
    },
    async close() {
      await Promise.all([twilio.close(), graph.close()]);
    },
  };
}
