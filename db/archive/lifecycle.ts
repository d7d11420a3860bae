import type { Pool, PoolClient } from 'pg';
import { queryDigest, tableColumns } from './canonical';
import { detachPartition, dropDetached, listPartitions, partitionState, withPartitionLock, type PartitionState } from './catalog';
import { exportPartition, type ArchiveProgress } from './export';
import { archiveFileMatches, readManifest, type ArchiveManifest } from './manifest';
import { boundsFromName, isoDate, monthOffset, monthStart, partitionName } from './months';
import type { ArchiveStore } from './store';

// The life of a month: created ahead of time, archived once older than the
// retention, detached, checked once more, dropped. Each step reads its state
// from the catalog and the manifest, so any step can be rerun after any crash.

export class DefaultPartitionError extends Error {
  constructor(readonly partition: string) {
    super(`messages has a DEFAULT partition (${partition}); the policy is none (db/PARTITIONS.md): drain it into monthly partitions and drop it`);
    this.name = 'DefaultPartitionError';
  }
}

export interface EnsureResult {
  created: string[];
  /** Months from the current one to `monthsAhead` that have an attached partition. */
  covered: string[];
  missing: string[];
}

/** Creates the current month and `monthsAhead` more (idempotent), then reports what covers them. */
export async function ensurePartitions(pool: Pool, asOf: Date, monthsAhead: number): Promise<EnsureResult> {
  const client = await pool.connect();
  let created: string[];
  try {
    await client.query('BEGIN');
    // ATTACH needs a brief lock on `messages`: fail fast and retry rather than queue behind a long query.
    await client.query("SET LOCAL lock_timeout = '10s'");
    const r = await client.query<{ part: string }>('SELECT ensure_message_partitions($1::date, $2) AS part', [isoDate(monthStart(asOf)), monthsAhead]);
    await client.query('COMMIT');
    created = r.rows.map((x) => x.part);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  const parts = (await listPartitions(pool)).filter((p) => p.state === 'attached' && p.from && p.to);
  const months = Array.from({ length: monthsAhead + 1 }, (_, i) => monthOffset(asOf, i));
  const isCovered = (m: Date) => parts.some((p) => p.from! <= m && p.to! >= monthOffset(m, 1));
  return {
    created,
    covered: months.filter(isCovered).map(partitionName),
    missing: months.filter((m) => !isCovered(m)).map(partitionName),
  };
}

export interface RetirementItem {
  partition: string;
  state: PartitionState;
  from: string;
  to: string;
  /** Older than the retention: archive, detach, drop. Otherwise only a pending detach is finished. */
  expired: boolean;
  archived: boolean;
}

/**
 * Months to work on: attached months wholly older than the retention, every
 * detach-pending month (a pending detach blocks all other detaches), and month
 * tables left detached by an interrupted run (only those with a manifest: a
 * table someone detached by hand is not ours to drop).
 */
export async function planRetirement(
  pool: Pool,
  store: ArchiveStore,
  asOf: Date,
  retentionMonths: number,
): Promise<{ cutoff: string; items: RetirementItem[] }> {
  const cutoff = monthOffset(asOf, -retentionMonths);
  const items: RetirementItem[] = [];
  for (const p of await listPartitions(pool)) {
    if (p.isDefault) throw new DefaultPartitionError(p.name);
    const bounds = p.from && p.to ? { from: p.from, to: p.to } : boundsFromName(p.name);
    if (!bounds) continue;
    const expired = bounds.to <= cutoff;
    const manifest = await readManifest(store, p.name);
    const wanted = p.state === 'detach_pending' || (expired && (p.state === 'attached' || manifest !== undefined));
    if (!wanted) continue;
    items.push({ partition: p.name, state: p.state, from: bounds.from.toISOString(), to: bounds.to.toISOString(), expired, archived: manifest !== undefined });
  }
  return { cutoff: cutoff.toISOString(), items };
}

export interface StepOptions {
  signal?: AbortSignal;
  onProgress?: (p: ArchiveProgress | { phase: 'detach' | 'check'; partition: string; rows: number }) => void;
  now?: () => Date;
}

/** Exports a month unless a manifest for it already exists (a rerun after a crash resumes here). */
export async function archivePartition(
  pool: Pool,
  store: ArchiveStore,
  name: string,
  opts: StepOptions = {},
): Promise<{ manifest?: ArchiveManifest; exported: boolean }> {
  return withPartitionLock(pool, name, async () => {
    const info = await partitionState(pool, name);
    const existing = await readManifest(store, name);
    if (!info) return { manifest: existing, exported: false };
    if (existing && (await store.size(existing.archive)) === existing.bytes) return { manifest: existing, exported: false };
    const bounds = info.from && info.to ? { from: info.from, to: info.to } : boundsFromName(name);
    if (!bounds) throw new Error(`${name}: cannot tell its month`);
    return { manifest: await exportPartition(pool, store, name, { ...opts, bounds }), exported: true };
  });
}

export type RetireOutcome = { outcome: 'dropped'; rows: number; reexported?: string } | { outcome: 'absent' } | { outcome: 'finalized' };

/**
 * Detaches (or finishes a pending detach), then re-checks the now frozen table
 * against the manifest and the archive file before dropping it. A row changed
 * after the export, or an archive file that is no longer the verified one, leads
 * to a fresh export from the detached table: it never leads to a drop without a
 * matching archive.
 */
export async function retirePartition(
  pool: Pool,
  store: ArchiveStore,
  name: string,
  opts: StepOptions & { finalizeOnly?: boolean } = {},
): Promise<RetireOutcome> {
  return withPartitionLock(pool, name, async (client) => {
    const info = await partitionState(pool, name);
    if (!info) return { outcome: 'absent' };
    let manifest = await readManifest(store, name);
    if (!manifest && !opts.finalizeOnly) throw new Error(`${name} has no verified archive; archive it before retiring`);
    opts.onProgress?.({ phase: 'detach', partition: name, rows: 0 });
    await detachPartition(pool, client, info, opts.signal);
    if (opts.finalizeOnly || !manifest) return { outcome: 'finalized' };

    opts.onProgress?.({ phase: 'check', partition: name, rows: manifest.rows });
    const reason =
      (await frozenTableDiffers(client, name, manifest)) ??
      ((await archiveFileMatches(store, manifest)) ? undefined : 'archive file differs from the verified one');
    if (reason) {
      const bounds = { from: new Date(manifest.bounds.from), to: new Date(manifest.bounds.to) };
      manifest = await exportPartition(pool, store, name, { ...opts, bounds });
    }
    await dropDetached(client, name);
    return { outcome: 'dropped', rows: manifest.rows, ...(reason ? { reexported: reason } : {}) };
  });
}

async function frozenTableDiffers(client: PoolClient, name: string, manifest: ArchiveManifest): Promise<string | undefined> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const columns = (await tableColumns(client, name)).map((c) => c.name);
    if (columns.join(',') !== manifest.columns.join(',')) return 'columns changed since the export';
    const now = await queryDigest(client, name, manifest.columns);
    return now.rows !== manifest.rows || now.rowDigest !== manifest.row_digest ? 'rows changed since the export' : undefined;
  } finally {
    // Also ends a transaction an error aborted: COMMIT then rolls back.
    await client.query('COMMIT');
  }
}
