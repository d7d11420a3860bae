import type { FastifyRequest } from 'fastify';
import { badRequest } from './errors';

/** Deeper than any real metadata; deep enough nesting overflows JSON.stringify and Postgres' jsonb parser. */
const MAX_DEPTH = 32;

/**
 * Refuses, with 400 and the field, what JSON and CSV can carry but Postgres cannot
 * store: U+0000 and lone surrogates (text and jsonb reject them) and runaway nesting.
 * Without it such a body passes the schema and fails at the insert as a 500.
 */
export async function guardBody(req: FastifyRequest): Promise<void> {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: req.body, path: '', depth: 0 }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value, path, depth } = item;
    if (typeof value === 'string') {
      if (!storable(value)) throw badRequest(path || 'body', 'contains U+0000 or an unpaired surrogate');
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_DEPTH) throw badRequest(path || 'body', `nests deeper than ${MAX_DEPTH} levels`);
    for (const [key, child] of Object.entries(value)) {
      const at = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (!storable(key)) throw badRequest(path || 'body', 'has a key with U+0000 or an unpaired surrogate');
      stack.push({ value: child, path: at, depth: depth + 1 });
    }
  }
}

const UNPAIRED = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function storable(s: string): boolean {
  return !s.includes('\0') && !UNPAIRED.test(s);
}
