import { EmailAdapter } from './email/email';
import { AdapterRegistry } from './registry';
import { MessengerAdapter } from './messenger/messenger';
import { JasminSmppAdapter } from './smpp/jasmin';
import { TwilioSmsAdapter } from './sms/twilio';
import { WhatsAppAdapter } from './whatsapp/whatsapp';

/** Every adapter the engine ships, registered under (channel_type, provider). */
export function defaultRegistry(): AdapterRegistry {
  const twilio = new TwilioSmsAdapter();
  const jasmin = new JasminSmppAdapter();
  return new AdapterRegistry()
    .register(twilio)
    .register(twilio, 'default')
    .register(new WhatsAppAdapter())
    .register(new MessengerAdapter())
    .register(new EmailAdapter())
    .register(jasmin)
    .register(jasmin, 'default');
}
