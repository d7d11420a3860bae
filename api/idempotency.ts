import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import type { Db } from '../db/client';
import { uuidv7 } from '../db/uuidv7';
import { ApiError, badRequest } from './errors';

export interface IdempotentResult {
  statusCode: number;
  body: Record<string, unknown>;
}

const KEY = /^[\x21-\x7e]{1,255}$/;

function requestHash(body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(body ?? null))
    .digest('hex');
}

/** The request's Idempotency-Key header, validated; undefined when absent. */
export function idempotencyKey(req: FastifyRequest): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (!key || !KEY.test(key)) throw badRequest('Idempotency-Key', 'must be 1-255 printable ASCII characters');
  return key;
}

/**
 * Runs `create` at most once per (account, key): the first request reserves a
 * resource id with the key, creates the resource under that id and stores the
 * response; a repeat gets the stored response. A repeat that finds no stored
 * response (the first attempt died midway) finishes the creation under the same
 * id — `create` must be idempotent for a given id. The same key with another
 * body is a client error (422).
 */
export async function withIdempotency(
  db: Db,
  accountId: string,
  key: string | undefined,
  body: unknown,
  /** `resumed`: a repeat finishing a first attempt that stopped midway (what it created may exist). */
  create: (resourceId: string | undefined, resumed: boolean) => Promise<IdempotentResult>,
): Promise<IdempotentResult & { replayed: boolean }> {
  if (key === undefined) return { ...(await create(undefined, false)), replayed: false };
  const hash = requestHash(body);
  const claimed = await db.execute<{ resource_id: string }>(sql`
    INSERT INTO idempotency_keys (account_id, key, request_hash, resource_id)
    VALUES (${accountId}, ${key}, ${hash}, ${uuidv7()})
    ON CONFLICT DO NOTHING RETURNING resource_id`);
  let resourceId = claimed.rows[0]?.resource_id;
  if (!resourceId) {
    const prior = await db.execute<{ request_hash: string; resource_id: string; status_code: number | null; response: Record<string, unknown> | null }>(sql`
      SELECT request_hash, resource_id, status_code, response FROM idempotency_keys WHERE account_id = ${accountId} AND key = ${key}`);
    const row = prior.rows[0];
    if (!row) throw new Error('idempotency key vanished between insert and select');
    if (row.request_hash !== hash) {
      throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different request body');
    }
    if (row.status_code !== null && row.response) return { statusCode: row.status_code, body: row.response, replayed: true };
    resourceId = row.resource_id;
  }
  const result = await create(resourceId, !claimed.rows[0]);
  await db.execute(sql`
    UPDATE idempotency_keys SET status_code = ${result.statusCode}, response = ${JSON.stringify(result.body)}::jsonb
    WHERE account_id = ${accountId} AND key = ${key}`);
  return { ...result, replayed: !claimed.rows[0] };
}
