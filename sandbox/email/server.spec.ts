import http from 'node:http';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmailAdapter } from '../../adapters/email/email';
import type { WebhookRequest } from '../../adapters/types';
import { selfSignedCertificate } from './certs';
import { startSmtpSink, type SmtpSink } from './server';
import type { SnsSigner } from './sns';
import { EgressPolicy } from '../../adapters/egress';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

// Round trip: the sandbox plays SES + SNS on its own; the real adapter must verify and read what it posts.
describe('SMTP sandbox posting SES events through SNS', () => {
  const posts: WebhookRequest[] = [];
  let receiver: http.Server;
  let sink: SmtpSink;
  let signer: SnsSigner;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks);
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));
        posts.push({ method: req.method ?? '', url: `http://127.0.0.1${req.url ?? ''}`, headers, rawBody, body: rawBody.toString('utf8'), query: {} });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const cert = selfSignedCertificate({ commonName: 'sns.amazonaws.com' });
    signer = { key: cert.key, cert: cert.cert, topicArn: 'arn:aws:sns:eu-west-1:123456789012:ses' };
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
    sink = await startSmtpSink({ events: { provider: 'ses', webhookUrl: url, signer }, eventDelayMs: 5 });
  });
  afterAll(async () => {
    await sink.close();
    receiver.close();
  });

  async function sendRaw(to: string, messageId: string): Promise<void> {
    const t = nodemailer.createTransport({ host: sink.host, port: sink.port, tls: { rejectUnauthorized: false } });
    await t.sendMail({ from: 'a@turumba.test', to, subject: 'hi', text: 'hi', messageId, headers: { 'X-Turumba-Message-Id': messageId.slice(1, 37) } });
    t.close();
  }

  it('posts a signed Delivery, and a Permanent bounce for bounce… recipients, that the adapter accepts and maps', async () => {
    const adapter = new EmailAdapter(Date.now, LOOPBACK);
    const secret = adapter.webhookSigningSecret({ events_provider: 'ses', sns_signing_cert_pem: signer.cert, sns_topic_arn: signer.topicArn });
    const ok = '01930a4e-5b6c-7d8e-9f01-000000000001';
    const bounced = '01930a4e-5b6c-7d8e-9f01-000000000002';
    await sendRaw('ada@example.test', `<${ok}@turumba.test>`);
    await sendRaw('bounce-1@example.test', `<${bounced}@turumba.test>`);
    await expect.poll(() => posts.length).toBe(2);

    expect(posts.every((p) => p.headers['content-type'] === 'text/plain; charset=UTF-8')).toBe(true);
    expect(posts.map((p) => adapter.verifyWebhookSignature(p, secret))).toEqual([true, true]);
    const updates = posts.flatMap((p) => adapter.parseStatusUpdates(p));
    expect(updates).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ messageId: ok, status: 'delivered' }),
        expect.objectContaining({ messageId: bounced, status: 'undelivered', errorCode: 'ses_bounce_general' }),
      ]),
    );
    expect(sink.eventPosts.map((e) => e.httpStatus)).toEqual([200, 200]);
  });
});
