import { AdapterRegistry } from './registry';
import { TwilioSmsAdapter } from './sms/twilio';

/** Every adapter the engine ships, registered under (channel_type, provider). */
export function defaultRegistry(): AdapterRegistry {
  const twilio = new TwilioSmsAdapter();
  return new AdapterRegistry().register(twilio).register(twilio, 'default');
}
