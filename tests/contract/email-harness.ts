// The email adapter against a real SMTP server (sandbox/email), with delivery events
// posted by the sandbox playing SendGrid's Event Webhook or SES through SNS.
import { randomUUID } from 'node:crypto';
import { selfSignedCertificate } from '../../sandbox/email/certs';
import { sendgridKeyPair } from '../../sandbox/email/sendgrid';
import { startSmtpSink } from '../../sandbox/email/server';
import type { SnsSigner } from '../../sandbox/email/sns';
import { EmailAdapter } from '../../adapters/email/email';
import type { Credentials, DispatchPayload, WebhookRequest } from '../../adapters/types';
import { LOOPBACK, scripted, type ContractHarness } from './contract-harness';
import { replaceInBody, startWebhookReceiver, webhookRequest, withoutHeader } from './webhook-receiver';

const USER = 'dispatch';
const PASSWORD = 'contract-smtp-password';
const TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:turumba-ses-events';

export async function emailHarness(events: 'sendgrid' | 'ses'): Promise<ContractHarness> {
  const adapter = new EmailAdapter(Date.now, LOOPBACK);
  const receiver = await startWebhookReceiver(adapter);
  const webhookUrl = `${receiver.url}/webhooks/email/${randomUUID()}`;
  const sink = await startSmtpSink({ users: { [USER]: PASSWORD }, eventDelayMs: 10 });

  const smtp: Credentials = {
    host: sink.host,
    port: String(sink.port),
    username: USER,
    password: PASSWORD,
    from_address: 'no-reply@turumba.test',
    from_name: 'Turumba',
    // The sink's certificate is self-signed for this run.
    tls_reject_unauthorized: 'false',
  };
  let credentials: Credentials;
  let otherChannel: Credentials;
  if (events === 'sendgrid') {
    const keys = sendgridKeyPair();
    sink.setEvents({ provider: 'sendgrid', webhookUrl, privateKey: keys.privateKey });
    credentials = { ...smtp, events_provider: 'sendgrid', sendgrid_verification_key: keys.verificationKey };
    otherChannel = { ...credentials, sendgrid_verification_key: sendgridKeyPair().verificationKey };
  } else {
    const signer: SnsSigner = { ...selfSignedCertificate({ commonName: 'sns.us-east-1.amazonaws.com' }), topicArn: TOPIC_ARN };
    sink.setEvents({ provider: 'ses', webhookUrl, signer });
    credentials = { ...smtp, events_provider: 'ses', sns_signing_cert_pem: signer.cert, sns_topic_arn: TOPIC_ARN };
    otherChannel = { ...credentials, sns_signing_cert_pem: selfSignedCertificate().cert };
  }
  const json = (body: string, type = 'application/json') => webhookRequest({ url: webhookUrl, headers: { 'content-type': type }, body });

  return {
    adapter,
    channel: { credentials, webhookSecret: 'contract-webhook-secret' },
    badCredentials: { ...credentials, password: 'wrong-smtp-password' },
    secretKeys: ['password'],
    unreachable: (port) => ({ ...credentials, port: String(port) }),
    recipients: scripted('ada@example.com', 'reject-550-grace@example.com', 'defer-451-alan@example.com', 'throttle-421-edsger@example.com'),
    payload: (to): DispatchPayload => ({
      messageId: randomUUID(),
      to,
      subject: 'Your order has shipped',
      body: 'Your order #1042 is on its way.',
      html: '<p>Your order <b>#1042</b> is on its way.</p>',
    }),
    context: () => ({ traceId: randomUUID().replace(/-/g, ''), statusCallbackUrl: webhookUrl }),
    requestsTo: (to) => sink.rcptAttempts.filter((a) => a.to === to.toLowerCase()).length,
    expected: {
      okStatus: 'sent',
      // Our own Message-ID: <message id@from domain>.
      providerMessageId: /^<[0-9a-f-]{36}@turumba\.test>$/,
      permanentCode: 'smtp_550',
      transientCode: 'smtp_451',
      networkCode: 'smtp_socket',
      rateLimitedCode: 'smtp_421',
    },
    status: {
      expected: 'delivered',
      carriesMessageId: true,
      // SendGrid: processed + delivered in one post; SES: one Delivery notification. Both carry our Message-ID.
      awaitWebhook: ({ result }) => receiver.waitFor((r) => r.rawBody.includes(result.providerMessageId)),
    },
    // Inbound email is out of scope: an email channel's webhook only carries delivery events.
    inbound: 'out-of-scope',
    signature:
      events === 'sendgrid'
        ? {
            otherChannel: { credentials: otherChannel, webhookSecret: 'another-webhook-secret' },
            tamper: (req) => replaceInBody(req, '"event":"delivered"', '"event":"bounce"'),
            strip: (req) => withoutHeader(req, 'x-twilio-email-event-webhook-signature'),
          }
        : {
            otherChannel: { credentials: otherChannel, webhookSecret: 'another-webhook-secret' },
            // The SES notification travels as the SNS envelope's signed Message string.
            tamper: (req) => replaceInBody(req, 'Delivery', 'Bounce'),
            strip: withoutSnsSignature,
          },
    malformed: [
      { what: 'not JSON', request: json('event=delivered', 'text/plain') },
      { what: 'a SendGrid event without its name', request: json('[{"email":"ada@example.com","timestamp":1700000000}]') },
      { what: 'neither a SendGrid list nor an SNS message', request: json('{"hello":"world"}') },
      { what: 'an SNS notification whose Message is not JSON', request: json('{"Type":"Notification","Message":"<xml/>"}', 'text/plain') },
    ],
    async close() {
      adapter.close();
      await sink.close();
      await receiver.close();
    },
  };
}

function withoutSnsSignature(req: WebhookRequest): WebhookRequest {
  const envelope = JSON.parse(req.rawBody.toString('utf8')) as Record<string, unknown>;
  if (typeof envelope.Signature !== 'string') throw new Error('cannot strip: no SNS Signature');
  delete envelope.Signature;
  const headers = Object.fromEntries(Object.entries(req.headers).filter((e): e is [string, string] => e[1] !== undefined));
  return webhookRequest({ method: req.method, url: req.url, headers, body: JSON.stringify(envelope) });
}
