import { createApiKey } from '../../db/api-keys';
import { selfSignedCertificate } from '../../sandbox/email/certs';
import { sendgridKeyPair } from '../../sandbox/email/sendgrid';
import { eventually, type TestStack } from '../support/stack';
import type { Fixtures } from './v1-requests';
import type { WebhookKeys } from './webhook-requests';

/** Nothing listens here: sends and credential checks to these channels fail fast. */
const DEAD = 'http://127.0.0.1:9';
const META_SECRET = 'fuzz-meta-app-secret';
const SNS_TOPIC = 'arn:aws:sns:us-east-1:123456789012:fuzz';

/**
 * A channel of every type, a delivered and a failed message, a draft and a finished
 * group, a replay, and a second account whose ids must stay out of reach.
 */
export async function createFixtures(stack: TestStack): Promise<{ fixtures: Fixtures; keys: WebhookKeys }> {
  const t = stack.twilioAccount;
  const smsCredentials = {
    account_sid: t.sid,
    api_key: t.apiKey,
    api_secret: t.apiSecret,
    auth_token: t.authToken,
    from: '+15017122661',
    base_url: stack.twilio.url,
  };
  const sms = await stack.createChannel({ channel_type: 'sms', provider: 'twilio', name: 'fuzz sms', credentials: smsCredentials });
  const whatsapp = await stack.createChannel({
    channel_type: 'whatsapp',
    name: 'fuzz whatsapp',
    credentials: { access_token: 'wa-token', phone_number_id: '1234', app_secret: META_SECRET, base_url: DEAD },
  });
  const messenger = await stack.createChannel({
    channel_type: 'messenger',
    name: 'fuzz messenger',
    credentials: { page_access_token: 'page-token', app_secret: META_SECRET, page_id: 'PAGE-1', base_url: DEAD },
  });
  const sendgrid = sendgridKeyPair();
  const smtp = { host: '127.0.0.1', port: '9', from_address: 'no-reply@turumba.test' };
  const email = await stack.createChannel({
    channel_type: 'email',
    name: 'fuzz sendgrid',
    credentials: { ...smtp, events_provider: 'sendgrid', sendgrid_verification_key: sendgrid.verificationKey },
  });
  const awsCert = selfSignedCertificate({ commonName: 'sns.amazonaws.com' });
  const ses = await stack.createChannel({
    channel_type: 'email',
    name: 'fuzz ses',
    credentials: { ...smtp, events_provider: 'ses', sns_signing_cert_pem: awsCert.cert, sns_topic_arn: SNS_TOPIC },
  });
  const smpp = await stack.createChannel({
    channel_type: 'smpp',
    provider: 'jasmin',
    name: 'fuzz smpp',
    credentials: { base_url: DEAD, username: 'u', password: 'p' },
  });

  const other = await stack.newAccount('fuzz other account');
  const otherChannelId = await stack.createSmsChannel({ apiKey: other.apiKey });
  const otherMessage = await stack.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { authorization: `Bearer ${other.apiKey}` },
    payload: { channel_id: otherChannelId, to: '+15551239999', body: 'not yours' },
  });

  const delivered = await stack.sendMessage({ channel_id: sms.id, to: '+15551234567', body: 'fixture' });
  const failed = await stack.sendMessage({ channel_id: sms.id, to: '+15005550001', body: 'fixture' });
  await stack.waitForStatus(delivered.body.id ?? '', 'delivered');
  await stack.waitForStatus(failed.body.id ?? '', 'failed');

  const post = async (url: string, payload: Record<string, unknown>) => {
    const res = await stack.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${stack.apiKey}` }, payload });
    if (res.statusCode >= 300) throw new Error(`fixture ${url}: ${res.statusCode} ${res.body}`);
    return res.json<{ id: string }>();
  };
  const draft = await post('/v1/group-messages', { channel_id: sms.id, body: 'Hi {{name}}', draft: true });
  const done = await post('/v1/group-messages', { channel_id: sms.id, body: 'Hi', recipients: [{ to: '+15551234568' }] });
  const replay = await post('/v1/replays', { status: 'failed', from: '2001-01-01T00:00:00Z', to: '2001-01-02T00:00:00Z' });
  await eventually(async () => {
    const g = await stack.app.inject({ method: 'GET', url: `/v1/group-messages/${done.id}`, headers: { authorization: `Bearer ${stack.apiKey}` } });
    const body = g.json<{ status: string; delivered?: number }>();
    return body.status === 'completed' && body.delivered === 1 ? true : undefined;
  }, 30_000);

  // What the key and channel administration routes may revoke, rename, disable or rotate:
  // never the key the fuzz authenticates with or a channel its webhooks are signed for.
  const spareKey = await createApiKey(stack.database.db, stack.accountId, 'fuzz spare');
  const otherKey = await createApiKey(stack.database.db, other.accountId, 'fuzz other spare');
  const spareChannelId = await stack.createSmsChannel();

  const channels = { sms: sms.id, whatsapp: whatsapp.id, messenger: messenger.id, email: email.id, smpp: smpp.id };
  const fixtures: Fixtures = {
    apiKey: stack.apiKey,
    otherApiKey: other.apiKey,
    accountIds: [stack.accountId, other.accountId],
    channels,
    otherChannelId,
    spareChannelId,
    spareApiKeyIds: [spareKey.id, otherKey.id],
    smsCredentials,
    deliveredMessageId: delivered.body.id ?? '',
    failedMessageId: failed.body.id ?? '',
    otherMessageId: otherMessage.json<{ id: string }>().id,
    draftGroupId: draft.id,
    doneGroupId: done.id,
    replayId: replay.id,
  };
  const keys: WebhookKeys = {
    publicBaseUrl: stack.config.publicBaseUrl,
    channels,
    sesChannelId: ses.id,
    webhookSecrets: {
      sms: sms.webhook_secret,
      whatsapp: whatsapp.webhook_secret,
      messenger: messenger.webhook_secret,
      email: email.webhook_secret,
      smpp: smpp.webhook_secret,
    },
    twilioAuthToken: t.authToken,
    metaAppSecret: META_SECRET,
    sendgridKey: sendgrid.privateKey,
    sns: { key: awsCert.key, cert: awsCert.cert, topicArn: SNS_TOPIC, signatureVersion: '2' },
    messageIds: [fixtures.deliveredMessageId, fixtures.failedMessageId, fixtures.otherMessageId],
  };
  return { fixtures, keys };
}
