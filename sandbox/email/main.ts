// Runs the sandbox SMTP server by hand:
//   PORT=2525 npx tsx sandbox/email/main.ts
//   PORT=2525 EVENTS=sendgrid WEBHOOK_URL=http://127.0.0.1:3000/webhooks/email/<channel id> npx tsx sandbox/email/main.ts
// It prints the channel credentials to use (and, with EVENTS, the key material to verify its events).
import { selfSignedCertificate } from './certs';
import { sendgridKeyPair } from './sendgrid';
import { startSmtpSink, type EventsTarget } from './server';

const DEV_USER = 'dev';
const DEV_PASSWORD = 'dev-smtp-password';
const DEV_TOPIC = 'arn:aws:sns:us-east-1:000000000000:turumba-dev-ses-events';

async function main(): Promise<void> {
  const provider = process.env.EVENTS;
  const webhookUrl = process.env.WEBHOOK_URL;
  if (provider && provider !== 'sendgrid' && provider !== 'ses') throw new Error("EVENTS must be 'sendgrid' or 'ses'");
  if (provider && !webhookUrl) throw new Error('EVENTS needs WEBHOOK_URL (the channel webhook_url)');

  const credentials: Record<string, string> = {};
  let events: EventsTarget | undefined;
  if (provider === 'sendgrid' && webhookUrl) {
    const keys = sendgridKeyPair();
    events = { provider, webhookUrl, privateKey: keys.privateKey };
    Object.assign(credentials, { events_provider: 'sendgrid', sendgrid_verification_key: keys.verificationKey });
  } else if (provider === 'ses' && webhookUrl) {
    const cert = selfSignedCertificate({ commonName: 'sns.amazonaws.com', days: 30 });
    events = { provider, webhookUrl, signer: { key: cert.key, cert: cert.cert, topicArn: DEV_TOPIC } };
    Object.assign(credentials, { events_provider: 'ses', sns_signing_cert_pem: cert.cert, sns_topic_arn: DEV_TOPIC });
  }
  const sink = await startSmtpSink({
    port: Number(process.env.PORT ?? 2525),
    host: process.env.HOST ?? '127.0.0.1',
    users: { [DEV_USER]: DEV_PASSWORD },
    events,
    log: (line) => console.log(line),
  });
  const channel = {
    host: sink.host,
    port: String(sink.port),
    username: DEV_USER,
    password: DEV_PASSWORD,
    from_address: 'no-reply@turumba.test',
    tls_reject_unauthorized: 'false',
    ...credentials,
  };
  console.log(`sandbox SMTP server at ${sink.host}:${sink.port} (STARTTLS, AUTH PLAIN/LOGIN)`);
  console.log(`email channel credentials: ${JSON.stringify(channel)}`);
  const stop = (): void => void sink.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
