import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdapterRegistry } from '../../adapters/registry';
import type { Credentials, WebhookRequest } from '../../adapters/types';
import type { ChannelType } from '../../lifecycle';
import type { Db } from '../../db/client';
import { advanceStatus } from '../../db/messages';

export interface ReceiverChannel {
  channelType: ChannelType;
  provider: string;
  /** The secret the provider signs with (Twilio auth token, Meta app secret). */
  signingSecret: string;
  credentials: Credentials;
}

/**
 * Baseline A's webhook side: the same verify → parse → forward-only status write the
 * engine does, minus Temporal (no signal: the update goes straight to the row).
 * Path: /webhooks/<channel id>.
 */
export async function startReceiver(
  db: Db,
  adapters: AdapterRegistry,
  channels: Map<string, ReceiverChannel>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks))
        .then((status) => res.writeHead(status).end())
        .catch(() => res.writeHead(500).end());
    });
  });

  async function handle(req: http.IncomingMessage, rawBody: Buffer): Promise<number> {
    const url = new URL(req.url ?? '/', base);
    const channel = channels.get(url.pathname.split('/')[2] ?? '');
    if (!channel) return 404;
    const adapter = adapters.get(channel.channelType, channel.provider);
    const text = rawBody.toString('utf8');
    const isForm = (req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded');
    const wreq: WebhookRequest = {
      method: req.method ?? 'POST',
      url: url.toString(),
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v])),
      rawBody,
      body: isForm ? Object.fromEntries(new URLSearchParams(text)) : (JSON.parse(text) as unknown),
      query: Object.fromEntries(url.searchParams),
    };
    if (!adapter.verifyWebhookSignature(wreq, channel.signingSecret)) return 403;
    for (const u of adapter.parseStatusUpdates(wreq, channel.credentials)) {
      // Both providers here carry our id back (callback URL / biz_opaque_callback_data).
      if (u.messageId) await advanceStatus(db, u.messageId, { status: u.status, at: new Date(), providerTime: u.occurredAt, source: 'webhook' });
    }
    return 200;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
