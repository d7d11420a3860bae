import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../sandbox/email/certs';
import { sendgridEvent, sendgridKeyPair, signedSendGridPost, type SendGridKeys } from '../../sandbox/email/sendgrid';
import { startSmtpSink, type ReceivedMail, type SmtpSink } from '../../sandbox/email/server';
import { createChannel } from '../../db/channels';
import { sesBounce, sesDelivery, sesRenderingFailure, snsHeaders, snsNotification, snsSubscriptionConfirmation, type SnsSigner } from '../../sandbox/email/sns';
import { eventually, startStack, type TestStack } from '../support/stack';

const SMTP_USER = 'dispatch';
const SMTP_PASSWORD = 'smtp-e2e-password';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:turumba-ses-events';
const TRACE = '0af7651916cd43dd8448eb211c80319c';

describe('Email through the whole engine (Temporal + Postgres + a real SMTP server)', () => {
  let stack: TestStack;
  let sink: SmtpSink;
  let sendgrid: SendGridKeys;
  let sns: SnsSigner;
  let sg: { id: string; webhook_url: string };
  let ses: { id: string; webhook_url: string };
  let smtp: Record<string, string>;
  let awsCert: { key: string; cert: string };

  beforeAll(async () => {
    stack = await startStack();
    const tls = selfSignedCertificate();
    sink = await startSmtpSink({ users: { [SMTP_USER]: SMTP_PASSWORD }, tls });
    sendgrid = sendgridKeyPair();
    awsCert = selfSignedCertificate({ commonName: 'sns.amazonaws.com' });
    sns = { key: awsCert.key, cert: awsCert.cert, topicArn: TOPIC, signatureVersion: '2' };
    smtp = {
      host: sink.host,
      port: String(sink.port),
      username: SMTP_USER,
      password: SMTP_PASSWORD,
      from_address: 'no-reply@turumba.test',
      from_name: 'Turumba Dispatch',
      reply_to: 'support@turumba.test',
      tls_reject_unauthorized: 'false',
      require_tls: 'true',
    };
    sg = await stack.createChannel({
      channel_type: 'email',
      name: 'sendgrid smtp',
      credentials: { ...smtp, events_provider: 'sendgrid', sendgrid_verification_key: sendgrid.verificationKey },
    });
    ses = await stack.createChannel({
      channel_type: 'email',
      name: 'ses smtp',
      credentials: { ...smtp, events_provider: 'ses', sns_signing_cert_pem: awsCert.cert, sns_topic_arn: TOPIC },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await sink?.close();
  });

  const unique = (local: string) => `${local}.${randomUUID().slice(0, 8)}@example.test`;
  const send = (channelId: string, to: string, extra: Record<string, unknown> = {}) =>
    stack.sendMessage({ channel_id: channelId, to, subject: 'Your receipt', html: '<p>Total: <b>12 €</b></p>', ...extra }, { 'x-trace-id': TRACE });
  const received = (to: string) => eventually(async () => sink.receivedFor(to)[0]);
  const postTo = (url: string, body: string, headers: Record<string, string>) => fetch(url, { method: 'POST', headers, body });
  const sendgridPost = (events: unknown[], keys: SendGridKeys = sendgrid) => {
    const { body, headers } = signedSendGridPost(keys.privateKey, events);
    return postTo(sg.webhook_url, body, headers);
  };
  const snsPost = (message: unknown, at?: Date, signer: SnsSigner = sns, url = ses.webhook_url) => {
    const envelope = snsNotification(signer, message, 'Amazon SES Email Event Notification', at);
    return postTo(url, JSON.stringify(envelope), snsHeaders(envelope));
  };
  /** Nothing a refused event could have moved: the row is still `sent`, with no delivery and no error. */
  const expectUnchanged = async (id: string) => {
    await new Promise((r) => setTimeout(r, 300));
    const after = (await stack.getMessage(id)).body;
    expect(after).toMatchObject({ status: 'sent', delivered_at: null, error: null });
  };
  const sesFacts = (mail: ReceivedMail) => ({
    messageIdHeader: mail.parsed.messageId ?? '',
    from: mail.from,
    to: mail.to[0] ?? '',
    subject: mail.parsed.subject ?? '',
    headers: { 'X-Turumba-Message-Id': mail.parsed.headers.get('x-turumba-message-id') as string },
  });

  it('API → workflow → SMTP (STARTTLS + AUTH, html + text) → signed SendGrid delivered → delivered, then open → read', async () => {
    const to = unique('ada');
    const accepted = await send(sg.id, to);
    expect(accepted.status).toBe(202);
    const id = accepted.body.id ?? '';

    const mail = await received(to);
    expect(mail).toMatchObject({ secure: true, user: SMTP_USER, from: 'no-reply@turumba.test', to: [to] });
    const p = mail.parsed;
    expect(p.messageId).toBe(`<${id}@turumba.test>`);
    expect(p.from?.value).toEqual([{ name: 'Turumba Dispatch', address: 'no-reply@turumba.test' }]);
    expect(p.replyTo?.value).toEqual([{ name: '', address: 'support@turumba.test' }]);
    expect(p.subject).toBe('Your receipt');
    expect(p.html).toBe('<p>Total: <b>12 €</b></p>');
    expect(p.text?.trim()).toBe('Total: 12 €');
    expect(p.headers.get('x-trace-id')).toBe(TRACE);
    expect(JSON.parse(p.headers.get('x-smtpapi') as string)).toEqual({ unique_args: { turumba_message_id: id } });

    const sent = await stack.waitForStatus(id, 'sent');
    expect(sent.provider_message_id).toBe(`<${id}@turumba.test>`);

    // SendGrid: processed + delivered carry smtp-id (our Message-ID); the open carries only unique_args.
    const facts = { email: to, smtpId: p.messageId, uniqueArgs: { turumba_message_id: id } };
    const res = await sendgridPost([sendgridEvent('processed', facts), sendgridEvent('delivered', facts, { response: '250 OK' })]);
    expect(res.status).toBe(200);
    const delivered = await stack.waitForStatus(id, 'delivered');
    expect(delivered.delivered_at).not.toBeNull();

    expect((await sendgridPost([sendgridEvent('open', facts, { useragent: 'Mozilla/5.0', ip: '192.0.2.1' })])).status).toBe(200);
    const read = await stack.waitForStatus(id, 'read');
    expect(read.read_at).not.toBeNull();
    expect(sink.receivedFor(to)).toHaveLength(1);
  });

  it('SES via SNS: a signed Delivery notification → delivered; a Permanent bounce → undelivered', async () => {
    const to = unique('grace');
    const accepted = await send(ses.id, to, { body: 'Plain text part', html: '<p>HTML part</p>' });
    const id = accepted.body.id ?? '';
    const mail = await received(to);
    expect(mail.parsed.text?.trim()).toBe('Plain text part');
    expect(mail.parsed.headers.get('x-ses-message-tags')).toBe(`turumba_message_id=${id}`);
    await stack.waitForStatus(id, 'sent');

    const confirmation = snsSubscriptionConfirmation(sns);
    expect((await postTo(ses.webhook_url, JSON.stringify(confirmation), snsHeaders(confirmation))).status).toBe(200);
    expect((await snsPost(sesDelivery(sesFacts(mail)))).status).toBe(200);
    await stack.waitForStatus(id, 'delivered');

    const bounced = unique('bounce');
    const second = (await send(ses.id, bounced)).body.id ?? '';
    const bouncedMail = await received(bounced);
    await stack.waitForStatus(second, 'sent');
    expect((await snsPost(sesBounce(sesFacts(bouncedMail)))).status).toBe(200);
    const undelivered = await stack.waitForStatus(second, 'undelivered');
    expect(undelivered.error).toEqual({ code: 'ses_bounce_general', message: `smtp; 550 5.1.1 <${bounced}>... User unknown` });
  });

  it('550 at RCPT → failed with smtp_550 after exactly one SMTP attempt', async () => {
    const to = unique('reject-550');
    const id = (await send(sg.id, to)).body.id ?? '';
    const failed = await stack.waitForStatus(id, 'failed');
    expect(failed.error?.code).toBe('smtp_550');
    expect(failed.error?.message).toMatch(/Mailbox unavailable/);
    const handle = stack.temporal.workflow.getHandle(`message-${id}`);
    await expect(handle.result()).rejects.toThrow();
    expect((await handle.describe()).status.name).toBe('FAILED');
    expect(sink.rcptAttempts.filter((a) => a.to === to.toLowerCase()).map((a) => a.code)).toEqual([550]);
  });

  it('451 on the first attempt → retried → accepted → delivered by the (simulated) SendGrid events', async () => {
    sink.setEvents({ provider: 'sendgrid', webhookUrl: sg.webhook_url, privateKey: sendgrid.privateKey });
    try {
      const to = unique('defer-451');
      const id = (await send(sg.id, to)).body.id ?? '';
      const delivered = await stack.waitForStatus(id, 'delivered');
      expect(delivered.error).toBeNull();
      expect(sink.rcptAttempts.filter((a) => a.to === to.toLowerCase()).map((a) => a.code)).toEqual([451, 250]);
      expect(sink.receivedFor(to)).toHaveLength(1);
      expect(sink.eventPosts.at(-1)).toEqual({ provider: 'sendgrid', kinds: ['processed', 'delivered'], httpStatus: 200 });
    } finally {
      sink.setEvents(undefined);
    }
  });

  it('refuses forged, unsigned and wrong-topic events (401) and changes nothing', async () => {
    const to = unique('silent');
    const id = (await send(sg.id, to)).body.id ?? '';
    const mail = await received(to);
    await stack.waitForStatus(id, 'sent');
    const facts = { email: to, smtpId: mail.parsed.messageId, uniqueArgs: { turumba_message_id: id } };

    expect((await sendgridPost([sendgridEvent('delivered', facts)], sendgridKeyPair())).status).toBe(401);
    const { body, headers } = signedSendGridPost(sendgrid.privateKey, [sendgridEvent('delivered', facts)]);
    expect((await postTo(sg.webhook_url, body.replace('delivered', 'bounce'), headers)).status).toBe(401);
    expect((await postTo(sg.webhook_url, body, { 'content-type': 'application/json' })).status).toBe(401);
    // A signature valid for SendGrid means nothing on the SES channel, and another topic is refused.
    expect((await postTo(ses.webhook_url, body, headers)).status).toBe(401);
    const otherTopic = snsNotification({ ...sns, topicArn: `${TOPIC}-other` }, sesDelivery(sesFacts(mail)));
    expect((await postTo(ses.webhook_url, JSON.stringify(otherTopic), snsHeaders(otherTopic))).status).toBe(401);

    await new Promise((r) => setTimeout(r, 300));
    const after = await stack.getMessage(id);
    expect(after.body.status).toBe('sent');
    expect(after.body.delivered_at).toBeNull();
  });

  describe('forged, foreign and stale events', () => {
    const sentOn = async (channelId: string, local: string) => {
      const to = unique(local);
      const id = (await send(channelId, to)).body.id ?? '';
      const mail = await received(to);
      await stack.waitForStatus(id, 'sent');
      return { id, mail, facts: { email: to, smtpId: mail.parsed.messageId, uniqueArgs: { turumba_message_id: id } } };
    };

    it('an SES channel cannot be created without sns_topic_arn (400 naming credentials.sns_topic_arn)', async () => {
      const create = (credentials: Record<string, string>) =>
        stack.app.inject({
          method: 'POST',
          url: '/v1/channels',
          headers: { authorization: `Bearer ${stack.apiKey}` },
          payload: { channel_type: 'email', name: 'ses, no topic', credentials },
        });
      const noTopic = await create({ ...smtp, events_provider: 'ses', sns_signing_cert_pem: awsCert.cert });
      expect(noTopic.statusCode).toBe(400);
      expect(noTopic.json()).toMatchObject({
        error: 'validation_failed',
        field: 'credentials.sns_topic_arn',
        message: expect.stringMatching(/^is required when events_provider is ses/) as unknown,
      });
      const notAnArn = await create({ ...smtp, events_provider: 'ses', sns_signing_cert_pem: awsCert.cert, sns_topic_arn: 'turumba-ses-events' });
      expect(notAnArn.statusCode).toBe(400);
      expect(notAnArn.json()).toMatchObject({ field: 'credentials.sns_topic_arn', message: expect.stringMatching(/^must be an SNS topic ARN/) as unknown });
    });

    it("a channel stored without sns_topic_arn takes no SNS notification, not even one signed by SNS's certificate", async () => {
      // As a row written before the topic was required: SNS signs every AWS account's topics with this one certificate.
      const legacy = await createChannel(stack.database.db, {
        accountId: stack.accountId,
        channelType: 'email',
        provider: 'default',
        name: 'ses, stored without topic',
        credentials: { ...smtp, events_provider: 'ses', sns_signing_cert_pem: awsCert.cert },
      });
      const { id, mail } = await sentOn(legacy.id, 'legacy');
      const anyonesTopic = { ...sns, topicArn: 'arn:aws:sns:us-east-1:210987654321:someone-elses-topic' };
      const res = await snsPost(sesDelivery(sesFacts(mail)), undefined, anyonesTopic, `${stack.apiUrl}/webhooks/email/${legacy.id}`);
      expect(res.status).toBe(401);
      await expectUnchanged(id);
    });

    it('refuses an SNS notification published over an hour ago or too far ahead (401), takes the same one fresh', async () => {
      const { id, mail } = await sentOn(ses.id, 'stale-sns');
      expect((await snsPost(sesDelivery(sesFacts(mail)), new Date(Date.now() - 61 * 60_000))).status).toBe(401);
      expect((await snsPost(sesDelivery(sesFacts(mail)), new Date(Date.now() + 10 * 60_000))).status).toBe(401);
      await expectUnchanged(id);
      expect((await snsPost(sesDelivery(sesFacts(mail)))).status).toBe(200);
      await stack.waitForStatus(id, 'delivered');
    });

    it('refuses a SendGrid post signed over 10 minutes ago (401), takes the same events signed now', async () => {
      const { id, facts } = await sentOn(sg.id, 'stale-sendgrid');
      const events = [sendgridEvent('delivered', facts)];
      const stale = signedSendGridPost(sendgrid.privateKey, events, Math.floor(Date.now() / 1000) - 11 * 60);
      expect((await postTo(sg.webhook_url, stale.body, stale.headers)).status).toBe(401);
      await expectUnchanged(id);
      expect((await sendgridPost(events)).status).toBe(200);
      await stack.waitForStatus(id, 'delivered');
    });

    it('an SES Rendering Failure event marks the message failed with the error SES gives', async () => {
      const { id, mail } = await sentOn(ses.id, 'rendering');
      const facts = { ...sesFacts(mail), tags: { turumba_message_id: id } };
      expect((await snsPost(sesRenderingFailure(facts, "Attribute 'name' is not present in the rendering data."))).status).toBe(200);
      const failed = await stack.waitForStatus(id, 'failed');
      expect(failed.error).toEqual({ code: 'ses_rendering_failure', message: "Attribute 'name' is not present in the rendering data." });
    });
  });

  it('answers 400 to malformed bodies, signed or not, and keeps serving', async () => {
    const broken = await postTo(sg.webhook_url, '[{"event":', { 'content-type': 'application/json' });
    expect(broken.status).toBe(400);
    const { body, headers } = signedSendGridPost(sendgrid.privateKey, [{ email: 'a@example.test' }]);
    const signedButMalformed = await postTo(sg.webhook_url, body, headers);
    expect(signedButMalformed.status).toBe(400);
    expect(((await signedButMalformed.json()) as { error: string }).error).toBe('malformed_payload');
    const notSes = snsNotification(sns, 'not an SES notification');
    expect((await postTo(ses.webhook_url, JSON.stringify(notSes), snsHeaders(notSes))).status).toBe(400);
    expect((await sendgridPost([])).status).toBe(200);
  });

  it('rejects a message the channel cannot take at the API: bad address, missing subject', async () => {
    const bad = await stack.sendMessage({ channel_id: sg.id, to: 'ada@example.test, eve@example.test', subject: 's', body: 'b' });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('to');
    const to = unique('nosubject');
    const noSubject = await stack.sendMessage({ channel_id: sg.id, to, body: 'no subject' });
    expect(noSubject.status).toBe(400);
    expect(noSubject.body.field).toBe('subject');
    expect(sink.rcptAttempts.filter((a) => a.to === to)).toHaveLength(0);
  });
});
