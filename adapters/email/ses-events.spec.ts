import { beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate, type SelfSigned } from '../../sandbox/email/certs';
import { snsNotification, snsSubscriptionConfirmation, type SnsSigner } from '../../sandbox/email/sns';
import { WebhookPayloadError, type WebhookRequest } from '../types';
import { EmailAdapter } from './email';
import { parseCertificates, snsStringToSign, verifySnsSignature } from './ses-events';

const adapter = new EmailAdapter();
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-events';
const OURS = '01930a4e-5b6c-7d8e-9f01-23456789abcd';

let aws: SelfSigned;
let other: SelfSigned;
let signer: SnsSigner;

beforeAll(() => {
  aws = selfSignedCertificate({ commonName: 'sns.amazonaws.com' });
  other = selfSignedCertificate({ commonName: 'sns.amazonaws.com' });
  signer = { key: aws.key, cert: aws.cert, topicArn: TOPIC };
});

function request(envelope: unknown): WebhookRequest {
  const raw = typeof envelope === 'string' ? envelope : JSON.stringify(envelope);
  // SNS posts JSON as text/plain: the HTTP layer hands the body over as a string.
  return {
    method: 'POST',
    url: 'https://dispatch.test/webhooks/email/c',
    headers: { 'content-type': 'text/plain; charset=UTF-8' },
    rawBody: Buffer.from(raw),
    body: raw,
    query: {},
  };
}

function secret(over: Record<string, string | undefined> = {}): string {
  return adapter.webhookSigningSecret({ events_provider: 'ses', sns_signing_cert_pem: aws.cert, sns_topic_arn: TOPIC, ...over });
}

// AWS's documented SES Delivery notification (notification-examples.html), verbatim in content.
const DOC_DELIVERY = {
  notificationType: 'Delivery',
  mail: {
    timestamp: '2016-01-27T14:59:38.237Z',
    messageId: '0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000',
    source: 'john@example.com',
    sourceArn: 'arn:aws:ses:us-west-2:888888888888:identity/example.com',
    sourceIp: '127.0.3.0',
    sendingAccountId: '123456789012',
    destination: ['jane@example.com'],
    headersTruncated: false,
    headers: [
      { name: 'From', value: '"John Doe" <john@example.com>' },
      { name: 'To', value: '"Jane Doe" <jane@example.com>' },
      { name: 'Message-ID', value: 'custom-message-ID' },
      { name: 'Subject', value: 'Hello' },
      { name: 'Content-Type', value: 'text/plain; charset="UTF-8"' },
      { name: 'Content-Transfer-Encoding', value: 'base64' },
      { name: 'Date', value: 'Wed, 27 Jan 2016 14:58:45 +0000' },
    ],
    commonHeaders: {
      from: ['John Doe <john@example.com>'],
      date: 'Wed, 27 Jan 2016 14:58:45 +0000',
      to: ['Jane Doe <jane@example.com>'],
      messageId: 'custom-message-ID',
      subject: 'Hello',
    },
  },
  delivery: {
    timestamp: '2016-01-27T14:59:38.237Z',
    recipients: ['jane@example.com'],
    processingTimeMillis: 546,
    reportingMTA: 'a8-70.smtp-out.amazonses.com',
    smtpResponse: '250 ok:  Message 64111812 accepted',
    remoteMtaIp: '127.0.2.0',
  },
};

// AWS's documented Bounce notification with a DSN (trimmed to the fields we read, values verbatim).
const DOC_BOUNCE = {
  notificationType: 'Bounce',
  bounce: {
    bounceType: 'Permanent',
    reportingMTA: 'dns; email.example.com',
    bouncedRecipients: [{ emailAddress: 'jane@example.com', status: '5.1.1', action: 'failed', diagnosticCode: 'smtp; 550 5.1.1 <jane@example.com>... User' }],
    bounceSubType: 'General',
    timestamp: '2016-01-27T14:59:38.237Z',
    feedbackId: '00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000',
    remoteMtaIp: '127.0.2.0',
  },
  mail: DOC_DELIVERY.mail,
};

describe('SNS signature verification', () => {
  it('builds the documented string to sign for a Notification (Subject only when present)', () => {
    const env = {
      Type: 'Notification',
      MessageId: 'm-1',
      TopicArn: TOPIC,
      Subject: 'S',
      Message: 'line1\nline2',
      Timestamp: '2012-05-02T00:54:06.655Z',
      SignatureVersion: '1',
      Signature: 'x',
      SigningCertURL: 'u',
      UnsubscribeURL: 'v',
    };
    expect(snsStringToSign(env)).toBe(
      `Message\nline1\nline2\nMessageId\nm-1\nSubject\nS\nTimestamp\n2012-05-02T00:54:06.655Z\nTopicArn\n${TOPIC}\nType\nNotification\n`,
    );
    const { Subject: _s, ...noSubject } = env;
    expect(snsStringToSign(noSubject)).toBe(
      `Message\nline1\nline2\nMessageId\nm-1\nTimestamp\n2012-05-02T00:54:06.655Z\nTopicArn\n${TOPIC}\nType\nNotification\n`,
    );
  });

  it('and for a SubscriptionConfirmation (SubscribeURL and Token, no Subject)', () => {
    const env = { Type: 'SubscriptionConfirmation', MessageId: 'm', Token: 't', TopicArn: TOPIC, Message: 'M', SubscribeURL: 'https://s', Timestamp: 'T' };
    expect(snsStringToSign(env)).toBe(
      `Message\nM\nMessageId\nm\nSubscribeURL\nhttps://s\nTimestamp\nT\nToken\nt\nTopicArn\n${TOPIC}\nType\nSubscriptionConfirmation\n`,
    );
  });

  it.each(['1', '2'] as const)('accepts a notification signed with SignatureVersion %s', (version) => {
    const env = snsNotification({ ...signer, signatureVersion: version }, DOC_DELIVERY, 'Amazon SES Email Event Notification');
    expect(adapter.verifyWebhookSignature(request(env), secret())).toBe(true);
  });

  it('accepts a signed SubscriptionConfirmation', () => {
    expect(adapter.verifyWebhookSignature(request(snsSubscriptionConfirmation(signer)), secret())).toBe(true);
  });

  it('rejects a tampered Message, a tampered Subject and a swapped Type', () => {
    const env = snsNotification(signer, DOC_DELIVERY, 'Subject');
    const s = secret();
    expect(adapter.verifyWebhookSignature(request({ ...env, Message: env.Message?.replace('Delivery', 'Bounce') }), s)).toBe(false);
    expect(adapter.verifyWebhookSignature(request({ ...env, Subject: 'Other' }), s)).toBe(false);
    expect(adapter.verifyWebhookSignature(request({ ...env, Type: 'SubscriptionConfirmation' }), s)).toBe(false);
  });

  it('rejects a signature by another key, or none', () => {
    const env = snsNotification({ ...signer, key: other.key }, DOC_DELIVERY);
    expect(adapter.verifyWebhookSignature(request(env), secret())).toBe(false);
    const { Signature: _sig, ...unsigned } = snsNotification(signer, DOC_DELIVERY);
    expect(adapter.verifyWebhookSignature(request(unsigned), secret())).toBe(false);
  });

  it('rejects an unknown SignatureVersion and a certificate URL off SNS', () => {
    const env = snsNotification(signer, DOC_DELIVERY);
    expect(adapter.verifyWebhookSignature(request({ ...env, SignatureVersion: '3' }), secret())).toBe(false);
    expect(adapter.verifyWebhookSignature(request({ ...env, SigningCertURL: 'https://sns.us-east-1.amazonaws.com.evil.test/cert.pem' }), secret())).toBe(false);
    expect(adapter.verifyWebhookSignature(request({ ...env, SigningCertURL: 'http://sns.us-east-1.amazonaws.com/cert.pem' }), secret())).toBe(false);
  });

  it("refuses another topic's notifications, and every notification on a channel without sns_topic_arn", () => {
    // Any AWS account gets its topics' messages signed with the same certificate.
    const env = snsNotification(signer, DOC_DELIVERY);
    expect(adapter.verifyWebhookSignature(request(env), secret({ sns_topic_arn: TOPIC }))).toBe(true);
    expect(adapter.verifyWebhookSignature(request(env), secret({ sns_topic_arn: `${TOPIC}-other` }))).toBe(false);
    expect(adapter.verifyWebhookSignature(request(env), secret({ sns_topic_arn: undefined }))).toBe(false);
    expect(adapter.verifyWebhookSignature(request(env), secret({ sns_topic_arn: '' }))).toBe(false);
    const { TopicArn: _topic, ...noTopic } = env;
    expect(adapter.verifyWebhookSignature(request(noTopic), secret())).toBe(false);
  });

  it('refuses a notification published over an hour ago, or more than 5 minutes ahead', () => {
    const certs = parseCertificates(aws.cert);
    const now = new Date();
    const at = (offsetMs: number) => request(snsNotification(signer, DOC_DELIVERY, undefined, new Date(now.getTime() + offsetMs)));
    expect(verifySnsSignature(at(-3_600_000), certs, TOPIC, now)).toBe(true);
    expect(verifySnsSignature(at(-3_600_001), certs, TOPIC, now)).toBe(false);
    expect(verifySnsSignature(at(300_000), certs, TOPIC, now)).toBe(true);
    expect(verifySnsSignature(at(300_001), certs, TOPIC, now)).toBe(false);
    // The adapter reads its own clock: a day-old genuine notification is refused.
    expect(adapter.verifyWebhookSignature(at(-86_400_000), secret())).toBe(false);
    const { Timestamp: _ts, ...undated } = snsNotification(signer, DOC_DELIVERY);
    expect(verifySnsSignature(request(undated), certs, TOPIC, now)).toBe(false);
  });

  it('accepts any certificate of a pasted bundle (rotation), none outside it', () => {
    const env = snsNotification(signer, DOC_DELIVERY);
    expect(adapter.verifyWebhookSignature(request(env), secret({ sns_signing_cert_pem: `${other.cert}\n${aws.cert}` }))).toBe(true);
    expect(adapter.verifyWebhookSignature(request(env), secret({ sns_signing_cert_pem: other.cert }))).toBe(false);
  });

  it('refuses a certificate outside its validity period', () => {
    const later = new Date(Date.now() + 30 * 86_400_000);
    const certs = parseCertificates(aws.cert);
    expect(verifySnsSignature(request(snsNotification(signer, DOC_DELIVERY)), certs, TOPIC)).toBe(true);
    expect(verifySnsSignature(request(snsNotification(signer, DOC_DELIVERY, undefined, later)), certs, TOPIC, later)).toBe(false);
  });

  it('returns false, never throws, on garbage', () => {
    expect(adapter.verifyWebhookSignature(request('{not json'), secret())).toBe(false);
    expect(adapter.verifyWebhookSignature(request('[]'), secret())).toBe(false);
    expect(adapter.verifyWebhookSignature(request(snsNotification(signer, DOC_DELIVERY)), secret({ sns_signing_cert_pem: 'not a cert' }))).toBe(false);
  });
});

describe('SES notification parsing', () => {
  const parse = (message: unknown) => adapter.parseStatusUpdates(request(snsNotification(signer, message)));

  it("maps AWS's documented Delivery example to delivered at the delivery time", () => {
    expect(parse(DOC_DELIVERY)).toEqual([{ providerMessageId: '<custom-message-ID>', status: 'delivered', occurredAt: new Date('2016-01-27T14:59:38.237Z') }]);
  });

  it("maps AWS's documented Permanent bounce to undelivered with the subtype and the DSN text", () => {
    expect(parse(DOC_BOUNCE)).toEqual([
      {
        providerMessageId: '<custom-message-ID>',
        status: 'undelivered',
        errorCode: 'ses_bounce_general',
        errorMessage: 'smtp; 550 5.1.1 <jane@example.com>... User',
        occurredAt: new Date('2016-01-27T14:59:38.237Z'),
      },
    ]);
    const suppressed = {
      ...DOC_BOUNCE,
      bounce: { ...DOC_BOUNCE.bounce, bounceSubType: 'OnAccountSuppressionList', bouncedRecipients: [{ emailAddress: 'jane@example.com' }] },
    };
    expect(parse(suppressed)[0]).toMatchObject({ errorCode: 'ses_bounce_on_account_suppression_list', errorMessage: 'Permanent bounce' });
  });

  it('changes nothing on a Transient bounce or a Complaint', () => {
    expect(parse({ ...DOC_BOUNCE, bounce: { ...DOC_BOUNCE.bounce, bounceType: 'Transient', bounceSubType: 'MailboxFull' } })).toEqual([]);
    expect(
      parse({
        notificationType: 'Complaint',
        complaint: { complainedRecipients: [{ emailAddress: 'jane@example.com' }], timestamp: '2016-01-27T14:59:38.237Z' },
        mail: DOC_DELIVERY.mail,
      }),
    ).toEqual([]);
  });

  it('finds our id in our Message-ID, in X-Turumba-Message-Id, or in the message tag', () => {
    const withOurMessageId = {
      ...DOC_DELIVERY,
      mail: { ...DOC_DELIVERY.mail, commonHeaders: { ...DOC_DELIVERY.mail.commonHeaders, messageId: `<${OURS}@turumba.test>` } },
    };
    expect(parse(withOurMessageId)[0]).toMatchObject({ messageId: OURS, providerMessageId: `<${OURS}@turumba.test>` });
    const withHeader = {
      ...DOC_DELIVERY,
      mail: { ...DOC_DELIVERY.mail, headers: [...DOC_DELIVERY.mail.headers, { name: 'X-Turumba-Message-Id', value: OURS }] },
    };
    expect(parse(withHeader)[0]?.messageId).toBe(OURS);
    const eventPublishing = {
      eventType: 'Delivery',
      mail: { messageId: 'ses-id', timestamp: '2016-01-27T14:59:38.237Z', tags: { turumba_message_id: [OURS] } },
      delivery: { timestamp: '2016-01-27T14:59:39.000Z' },
    };
    expect(parse(eventPublishing)).toEqual([
      { providerMessageId: 'ses-id', messageId: OURS, status: 'delivered', occurredAt: new Date('2016-01-27T14:59:39.000Z') },
    ]);
  });

  it('maps event-publishing Open/Click to read and Reject to undelivered', () => {
    const mail = { messageId: 'ses-id', timestamp: '2016-01-27T14:59:38.237Z' };
    expect(parse({ eventType: 'Open', mail, open: { timestamp: '2016-01-27T15:00:00.000Z' } })[0]).toMatchObject({ status: 'read' });
    expect(parse({ eventType: 'Click', mail, click: { timestamp: '2016-01-27T15:00:00.000Z' } })[0]).toMatchObject({ status: 'read' });
    expect(parse({ eventType: 'Reject', mail, reject: { reason: 'Bad content' } })[0]).toMatchObject({
      status: 'undelivered',
      errorCode: 'ses_reject',
      errorMessage: 'Bad content',
    });
    expect(parse({ eventType: 'Send', mail, send: {} })).toEqual([]);
    expect(parse({ eventType: 'Complaint', mail, complaint: {} })).toEqual([]);
    expect(parse({ eventType: 'DeliveryDelay', mail, deliveryDelay: {} })).toEqual([]);
  });

  it('marks the message failed on a Rendering Failure, with the error SES gives', () => {
    // AWS's documented event-publishing example (event-publishing-retrieving-sns-examples.html).
    const renderingFailure = {
      eventType: 'Rendering Failure',
      mail: {
        timestamp: '2018-01-22T18:43:06.197Z',
        source: 'sender@example.com',
        messageId: 'EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000',
        destination: ['recipient@example.com'],
        tags: { turumba_message_id: [OURS] },
      },
      failure: { errorMessage: "Attribute 'attributeName' is not present in the rendering data.", templateName: 'MyTemplate' },
    };
    expect(parse(renderingFailure)).toEqual([
      {
        providerMessageId: 'EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000',
        messageId: OURS,
        status: 'failed',
        errorCode: 'ses_rendering_failure',
        errorMessage: "Attribute 'attributeName' is not present in the rendering data.",
        occurredAt: new Date('2018-01-22T18:43:06.197Z'),
      },
    ]);
  });

  it("has nothing to apply for a SubscriptionConfirmation or SES's subscription test message", () => {
    expect(adapter.parseStatusUpdates(request(snsSubscriptionConfirmation(signer)))).toEqual([]);
    expect(parse({ notificationType: 'AmazonSnsSubscriptionSucceeded', message: 'You have successfully subscribed your Amazon SNS topic' })).toEqual([]);
  });

  it.each([
    ['a body that is not JSON', '{"Type":'],
    ['an object without Type', '{"Message":"{}"}'],
    ['an unknown SNS Type', '{"Type":"Telegram","Message":"{}"}'],
    ['a Message that is not JSON', '{"Type":"Notification","Message":"hello"}'],
    ['a Message that is not an object', '{"Type":"Notification","Message":"[1]"}'],
    ['a Bounce without its bounce object', JSON.stringify({ Type: 'Notification', Message: JSON.stringify({ notificationType: 'Bounce', mail: {} }) })],
    ['a Delivery without its mail object', JSON.stringify({ Type: 'Notification', Message: JSON.stringify({ notificationType: 'Delivery', delivery: {} }) })],
  ])('rejects %s with WebhookPayloadError', (_what, body) => {
    expect(() => adapter.parseStatusUpdates(request(body))).toThrow(WebhookPayloadError);
  });
});
