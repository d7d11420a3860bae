import { WebhookPayloadError, type WebhookRequest } from '../types';

/** Header lookup whatever the case the HTTP layer kept. */
export function header(req: WebhookRequest, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(req.headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/**
 * The JSON document the provider sent, read from the raw bytes: SNS posts JSON as
 * text/plain, so the HTTP layer's parse cannot be relied on.
 */
export function jsonBody(req: WebhookRequest): unknown {
  if (req.rawBody.length === 0) {
    if (typeof req.body === 'object' && req.body !== null && !Buffer.isBuffer(req.body)) return req.body;
    throw new WebhookPayloadError('email event webhook body is empty');
  }
  try {
    return JSON.parse(req.rawBody.toString('utf8')) as unknown;
  } catch {
    throw new WebhookPayloadError('email event webhook body is not JSON');
  }
}

export type Json = Readonly<Record<string, unknown>>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function str(obj: Json | undefined, key: string): string | undefined {
  const v = obj?.[key];
  return typeof v === 'string' ? v : undefined;
}

export function obj(parent: Json | undefined, key: string): Json | undefined {
  const v = parent?.[key];
  return isObject(v) ? v : undefined;
}

/** An ISO or epoch-seconds time; undefined when absent or unreadable. */
export function timeOf(value: unknown): Date | undefined {
  const at = typeof value === 'number' ? new Date(value * 1000) : typeof value === 'string' ? new Date(value) : undefined;
  return at && !Number.isNaN(at.getTime()) ? at : undefined;
}
