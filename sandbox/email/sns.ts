// Plays Amazon SNS delivering Amazon SES notifications to an HTTP endpoint: the JSON
// envelope SNS posts (as text/plain) and its signature, written from AWS's
// documentation on its own (no adapter code), so a misreading cannot hide in both.
import { randomUUID, sign } from 'node:crypto';

export interface SnsSigner {
  /** PEM private key matching `cert`. */
  key: string;
  /** The PEM certificate an operator would paste as sns_signing_cert_pem. */
  cert: string;
  topicArn: string;
  /** 1 = SHA1withRSA (SNS's default), 2 = SHA256withRSA. */
  signatureVersion?: '1' | '2';
  region?: string;
}

export type SnsEnvelope = Record<string, string>;

const NOTIFICATION_KEYS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'];
const SUBSCRIPTION_KEYS = ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];

function signEnvelope(signer: SnsSigner, fields: SnsEnvelope): SnsEnvelope {
  const version = signer.signatureVersion ?? '1';
  const keys = fields.Type === 'Notification' ? NOTIFICATION_KEYS : SUBSCRIPTION_KEYS;
  let text = '';
  for (const k of keys) if (fields[k] !== undefined) text += `${k}\n${fields[k]}\n`;
  const region = signer.region ?? 'us-east-1';
  return {
    ...fields,
    SignatureVersion: version,
    Signature: sign(version === '2' ? 'sha256' : 'sha1', Buffer.from(text, 'utf8'), signer.key).toString('base64'),
    SigningCertURL: `https://sns.${region}.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem`,
  };
}

/** An SNS `Notification` whose Message is `message` (an SES notification object, serialised as SNS does), published at `at`. */
export function snsNotification(signer: SnsSigner, message: unknown, subject?: string, at = new Date()): SnsEnvelope {
  const region = signer.region ?? 'us-east-1';
  return {
    ...signEnvelope(signer, {
      Type: 'Notification',
      MessageId: randomUUID(),
      TopicArn: signer.topicArn,
      ...(subject ? { Subject: subject } : {}),
      Message: typeof message === 'string' ? message : JSON.stringify(message),
      Timestamp: at.toISOString(),
    }),
    UnsubscribeURL: `https://sns.${region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${signer.topicArn}:${randomUUID()}`,
  };
}

export function snsSubscriptionConfirmation(signer: SnsSigner): SnsEnvelope {
  const region = signer.region ?? 'us-east-1';
  const token = randomUUID().replace(/-/g, '').repeat(4);
  return signEnvelope(signer, {
    Type: 'SubscriptionConfirmation',
    MessageId: randomUUID(),
    Token: token,
    TopicArn: signer.topicArn,
    Message: `You have chosen to subscribe to the topic ${signer.topicArn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
    SubscribeURL: `https://sns.${region}.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${signer.topicArn}&Token=${token}`,
    Timestamp: new Date().toISOString(),
  });
}

/** The headers SNS sends with every HTTP delivery. */
export function snsHeaders(envelope: SnsEnvelope): Record<string, string> {
  return {
    'content-type': 'text/plain; charset=UTF-8',
    'x-amz-sns-message-type': envelope.Type ?? '',
    'x-amz-sns-message-id': envelope.MessageId ?? '',
    'x-amz-sns-topic-arn': envelope.TopicArn ?? '',
    'user-agent': 'Amazon Simple Notification Service Agent',
  };
}

export interface SesMailFacts {
  /** The Message-ID header the sender set (SES reports the original in commonHeaders). */
  messageIdHeader: string;
  from: string;
  to: string;
  subject: string;
  /** Extra original headers, e.g. X-Turumba-Message-Id, as SES lists them. */
  headers?: Record<string, string>;
  /** SES message tags (event publishing only). */
  tags?: Record<string, string>;
}

function mailObject(m: SesMailFacts, at: string) {
  const headers = [
    { name: 'From', value: m.from },
    { name: 'To', value: m.to },
    { name: 'Message-ID', value: m.messageIdHeader },
    { name: 'Subject', value: m.subject },
    ...Object.entries(m.headers ?? {}).map(([name, value]) => ({ name, value })),
  ];
  return {
    timestamp: at,
    source: m.from,
    sourceArn: 'arn:aws:ses:us-east-1:123456789012:identity/example.test',
    sourceIp: '127.0.3.0',
    sendingAccountId: '123456789012',
    // SES's own id, in its documented shape.
    messageId: `0000014644fe5ef6-${randomUUID()}-000000`,
    destination: [m.to],
    headersTruncated: false,
    headers,
    commonHeaders: { from: [m.from], to: [m.to], messageId: m.messageIdHeader, subject: m.subject },
    ...(m.tags ? { tags: Object.fromEntries(Object.entries(m.tags).map(([k, v]) => [k, [v]])) } : {}),
  };
}

/** SES `Delivery` notification (identity notifications, with original headers). */
export function sesDelivery(m: SesMailFacts, at = new Date()) {
  const iso = at.toISOString();
  return {
    notificationType: 'Delivery',
    mail: mailObject(m, iso),
    delivery: {
      timestamp: iso,
      recipients: [m.to],
      processingTimeMillis: 546,
      reportingMTA: 'a8-70.smtp-out.amazonses.com',
      smtpResponse: '250 ok:  Message 64111812 accepted',
      remoteMtaIp: '127.0.2.0',
    },
  };
}

/** SES `Bounce` notification; Permanent/General is the "no such user" case. */
export function sesBounce(m: SesMailFacts, bounceType: 'Permanent' | 'Transient' | 'Undetermined' = 'Permanent', bounceSubType = 'General', at = new Date()) {
  const iso = at.toISOString();
  return {
    notificationType: 'Bounce',
    bounce: {
      bounceType,
      bounceSubType,
      reportingMTA: 'dns; email.example.test',
      bouncedRecipients: [{ emailAddress: m.to, status: '5.1.1', action: 'failed', diagnosticCode: `smtp; 550 5.1.1 <${m.to}>... User unknown` }],
      timestamp: iso,
      feedbackId: `00000138111222aa-${randomUUID()}-000000`,
      remoteMtaIp: '127.0.2.0',
    },
    mail: mailObject(m, iso),
  };
}

/** SES `Rendering Failure` event (event publishing only: a template the send named could not be rendered). */
export function sesRenderingFailure(m: SesMailFacts, errorMessage = "Attribute 'name' is not present in the rendering data.", at = new Date()) {
  return {
    eventType: 'Rendering Failure',
    mail: mailObject(m, at.toISOString()),
    failure: { errorMessage, templateName: 'order_receipt' },
  };
}
