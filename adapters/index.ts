import { type EgressPolicy } from './egress';
import { EmailAdapter } from './email/email';
import { AdapterRegistry } from './registry';
import { MessengerAdapter } from './messenger/messenger';
import { JasminSmppAdapter } from './smpp/jasmin';
import { TwilioSmsAdapter } from './sms/twilio';
import { WhatsAppAdapter } from './whatsapp/whatsapp';

/** Every adapter the engine ships, registered under (channel_type, provider); every outbound call passes `egress`. */
export function defaultRegistry(egress: EgressPolicy): AdapterRegistry {
  const twilio = new TwilioSmsAdapter(egress);
  const jasmin = new JasminSmppAdapter(egress);
  return new AdapterRegistry()
    .register(twilio)
    .register(twilio, 'default')
    .register(new WhatsAppAdapter(Date.now, egress))
    .register(new MessengerAdapter(Date.now, egress))
    .register(new EmailAdapter(Date.now, egress))
    .register(jasmin)
    .register(jasmin, 'default');
}
