import type { WebhookRequest } from '../../adapters/types';

/** A JSON webhook POSTed to `url`; `body` is kept as given, so a spec can hand the adapter what JSON cannot carry. */
export function jsonWebhook(url: string, body: unknown, headers: Record<string, string> = {}): WebhookRequest {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    rawBody: Buffer.from(raw),
    body,
    query: {},
  };
}
