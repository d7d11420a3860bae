// Our side of a simulator's callbacks: each request turned into the WebhookRequest
// the API route would build, answered as the test scripts it.
import { webhookRequest } from '../contract/webhook-receiver';
import type { WebhookRequest } from '../../adapters/types';
import { startLocalServer, type LocalServer } from './local-server';

export interface ListenerAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export async function listenForWebhooks(answer: (req: WebhookRequest) => ListenerAnswer): Promise<LocalServer> {
  const server = await startLocalServer((req, body, res) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const reply = answer(webhookRequest({ method: req.method ?? '', url: `${server.url}${req.url ?? ''}`, headers, body }));
    res.writeHead(reply.status, reply.headers).end(reply.body);
  });
  return server;
}

export interface StatusReceiver extends LocalServer {
  /** The callbacks answered 200, as the API would accept them. */
  received: WebhookRequest[];
  /** Status codes to answer with, in order; 200 once exhausted. */
  answers: number[];
}

export async function startStatusReceiver(): Promise<StatusReceiver> {
  const received: WebhookRequest[] = [];
  const answers: number[] = [];
  const server = await listenForWebhooks((req) => {
    const status = answers.shift() ?? 200;
    if (status === 200) received.push(req);
    return { status };
  });
  return { ...server, received, answers };
}
