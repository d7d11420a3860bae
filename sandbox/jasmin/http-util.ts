import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Twisted merges query and form arguments (the query's value first); Jasmin also takes a JSON object as the body. */
export async function readArgs(req: IncomingMessage, url: URL): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  const args: Record<string, string> = {};
  const put = (k: string, v: string): void => void (args[k] ??= v);
  for (const [k, v] of url.searchParams) put(k, v);
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json' && raw) {
    for (const [k, v] of Object.entries(JSON.parse(raw) as Record<string, unknown>)) args[k] = String(v);
  } else if (type === 'application/x-www-form-urlencoded') {
    for (const [k, v] of new URLSearchParams(raw)) put(k, v);
  }
  return args;
}

export function reply(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function json(res: ServerResponse, answer: { status: number; body: string }): void {
  reply(res, answer.status, 'application/json', answer.body);
}

export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
