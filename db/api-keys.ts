import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from './client';
import { apiKeys } from './schema';
import { uuidv7 } from './uuidv7';

export interface ApiKeyIssued {
  id: string;
  key: string;
  prefix: string;
  name: string;
  createdAt: Date;
}

const KEY_PREFIX = 'tdk';

function hashKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Key format `tdk_<prefix>_<secret>`: the prefix is stored in clear for lookup and display, the whole key only as a hash. */
export async function createApiKey(db: Db, accountId: string, name = 'default'): Promise<ApiKeyIssued> {
  const prefix = randomBytes(6).toString('hex');
  const key = `${KEY_PREFIX}_${prefix}_${randomBytes(24).toString('base64url')}`;
  const id = uuidv7();
  const [row] = await db
    .insert(apiKeys)
    .values({ id, accountId, prefix, keyHash: hashKey(key), name })
    .returning({ createdAt: apiKeys.createdAt });
  return { id, key, prefix, name, createdAt: row?.createdAt ?? new Date() };
}

export async function accountForApiKey(db: Db, key: string): Promise<string | undefined> {
  return (await apiKeyFor(db, key))?.accountId;
}

/** The live key a bearer token is, with its account: what per-key limits and account scoping need. */
export async function apiKeyFor(db: Db, key: string): Promise<{ id: string; accountId: string } | undefined> {
  const m = /^tdk_([0-9a-f]{12})_[\w-]{16,}$/.exec(key);
  if (!m) return undefined;
  const [row] = await db
    .select({ id: apiKeys.id, accountId: apiKeys.accountId, keyHash: apiKeys.keyHash })
    .from(apiKeys)
    .where(and(eq(apiKeys.prefix, m[1] ?? ''), isNull(apiKeys.revokedAt)));
  if (!row) return undefined;
  const a = Buffer.from(row.keyHash, 'hex');
  const b = Buffer.from(hashKey(key), 'hex');
  return a.length === b.length && timingSafeEqual(a, b) ? { id: row.id, accountId: row.accountId } : undefined;
}

export interface ApiKeyInfo {
  id: string;
  accountId: string;
  name: string;
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

const apiKeyInfo = {
  id: apiKeys.id,
  accountId: apiKeys.accountId,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
};

/** An account's keys, oldest first, revoked ones included; never the key or its hash. */
export async function listApiKeys(db: Db, accountId: string): Promise<ApiKeyInfo[]> {
  return db.select(apiKeyInfo).from(apiKeys).where(eq(apiKeys.accountId, accountId)).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
}

/**
 * Revokes a key (of `accountId` when given): it is refused from the next request on, since
 * every request reads the key's row. Revoking a revoked key keeps its first revoked_at.
 * Undefined when there is no such key (or it is another account's).
 */
export async function revokeApiKey(db: Db, id: string, accountId?: string): Promise<ApiKeyInfo | undefined> {
  const where = accountId ? and(eq(apiKeys.id, id), eq(apiKeys.accountId, accountId)) : eq(apiKeys.id, id);
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(where)
    .returning(apiKeyInfo);
  return row;
}
