import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase, seedMessages, type ScratchDatabase } from '../../bench/partitions';
import { connect, type Database } from '../client';
import { migrate } from '../migrate';
import { createAccount } from '../accounts';
import { createChannel } from '../channels';
import { advanceStatus, getMessage, insertMessage } from '../messages';
import { listPartitions, PartitionBusyError, withPartitionLock } from './catalog';
import { archivePartition, DefaultPartitionError, planRetirement, retirePartition } from './lifecycle';
import { readManifest, type ArchiveManifest } from './manifest';
import { restoreArchive } from './restore';
import { DirectoryArchiveStore } from './store';

// Export → verify → manifest → detach → re-check → drop, on real PostgreSQL, with
// the interruptions a production run meets: a partial export, a detach stopped
// between its two transactions, a crash between detach and drop, rows changed
// after the export, an archive file altered after it was verified.

const NOW = new Date('2030-03-15T12:00:00Z');
const ACCOUNTS = ['01900000-0000-7000-8000-00000000000a', '01900000-0000-7000-8000-00000000000b'];
const CHANNELS = ['01900001-0000-7000-8000-00000000000a', '01900001-0000-7000-8000-00000000000b'];
const TRICKY_BODY = 'line one\nline "two"\t\\ é 😀 \u2028 </script>';

describe('archival of expired months (real PostgreSQL, archive directory)', () => {
  let scratch: ScratchDatabase;
  let database: Database;
  let dir: string;
  let store: DirectoryArchiveStore;
  let tricky: string;
  const pool = () => database.pool;

  const count = async (table: string) => (await pool().query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
  const snapshot = async (partition: string) => pool().query(`CREATE TABLE snap_${partition} AS SELECT * FROM ${partition}`);
  /** Rows of `a` not in `b` plus rows of `b` not in `a`, over the archived columns. */
  const difference = async (a: string, b: string, manifest: ArchiveManifest) => {
    const cols = manifest.columns.map((c) => `"${c}"`).join(', ');
    const { rows } = await pool().query<{ n: number }>(
      `SELECT ((SELECT count(*) FROM (SELECT ${cols} FROM ${a} EXCEPT ALL SELECT ${cols} FROM ${b}) x)
             + (SELECT count(*) FROM (SELECT ${cols} FROM ${b} EXCEPT ALL SELECT ${cols} FROM ${a}) y))::int AS n`,
    );
    return rows[0]!.n;
  };
  const stateOf = async (name: string) => (await listPartitions(pool())).find((p) => p.name === name)?.state;

  beforeAll(async () => {
    scratch = await createScratchDatabase('turumba_archive');
    await migrate(scratch.url, NOW);
    database = connect(scratch.url, { max: 6 });
    await pool().query(`SELECT ensure_message_partitions('2029-01-01', 14)`);
    for (let m = 0; m < 7; m++) {
      await seedMessages(pool(), {
        from: new Date(Date.UTC(2029, m, 1)),
        to: new Date(Date.UTC(2029, m + 1, 1)),
        rows: 1500,
        accounts: ACCOUNTS,
        channels: CHANNELS,
      });
    }
    const accountId = (await createAccount(database.db, 'archive')).id;
    const channelId = (await createChannel(database.db, { accountId, channelType: 'sms', provider: 'twilio', name: 'c', credentials: {} })).id;
    tricky = (
      await insertMessage(
        database.db,
        {
          accountId,
          channelId,
          channelType: 'sms',
          to: '+15550009999',
          body: TRICKY_BODY,
          html: '<p>“quoted”</p>',
          metadata: { trace_id: 't', user: { nested: { a: [1, 'two', null] }, 'key with "quotes"': true } },
        },
        Date.UTC(2029, 0, 31, 23, 59, 59, 999),
      )
    ).id;
    dir = mkdtempSync(join(tmpdir(), 'turumba-archive-'));
    store = new DirectoryArchiveStore(dir);
  }, 120_000);

  afterAll(async () => {
    await database?.close();
    await scratch?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('plans only months wholly older than the retention', async () => {
    const plan = await planRetirement(pool(), store, NOW, 12);
    expect(plan.cutoff).toBe('2029-03-01T00:00:00.000Z');
    expect(plan.items).toEqual([
      { partition: 'messages_y2029m01', state: 'attached', from: '2029-01-01T00:00:00.000Z', to: '2029-02-01T00:00:00.000Z', expired: true, archived: false },
      { partition: 'messages_y2029m02', state: 'attached', from: '2029-02-01T00:00:00.000Z', to: '2029-03-01T00:00:00.000Z', expired: true, archived: false },
    ]);
    expect((await planRetirement(pool(), store, NOW, 6)).items.map((i) => i.partition)).toEqual([
      'messages_y2029m01',
      'messages_y2029m02',
      'messages_y2029m03',
      'messages_y2029m04',
      'messages_y2029m05',
      'messages_y2029m06',
      'messages_y2029m07',
      'messages_y2029m08',
    ]);
  });

  it('exports a month to NDJSON.gz whose lines, count and checksums match the table and the manifest', async () => {
    await snapshot('messages_y2029m01');
    const progress: number[] = [];
    const r = await archivePartition(pool(), store, 'messages_y2029m01', { onProgress: (p) => p.phase === 'export' && progress.push(p.rows) });
    expect(r.exported).toBe(true);
    const m = r.manifest!;
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[progress.length - 1]).toBe(1501);

    const gz = readFileSync(join(dir, 'messages_y2029m01.ndjson.gz'));
    const text = gunzipSync(gz).toString('utf8');
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    let sum = 0n;
    for (const l of lines) sum += createHash('sha256').update(l, 'utf8').digest().readBigInt64BE(0);
    expect(m).toMatchObject({
      version: 1,
      partition: 'messages_y2029m01',
      format: 'ndjson.gz',
      archive: 'messages_y2029m01.ndjson.gz',
      bounds: { from: '2029-01-01T00:00:00.000Z', to: '2029-02-01T00:00:00.000Z' },
      rows: 1501,
      sha256: createHash('sha256').update(text, 'utf8').digest('hex'),
      row_digest: sum.toString(),
      file_sha256: createHash('sha256').update(gz).digest('hex'),
      bytes: gz.length,
    });
    expect(m.columns[0]).toBe('id');
    expect(m.columns).toContain('metadata_');
    expect(m.column_types[m.columns.indexOf('created_at')]).toBe('timestamp with time zone');
    expect(JSON.parse(readFileSync(join(dir, 'messages_y2029m01.manifest.json'), 'utf8'))).toEqual(m);
    expect(lines).toHaveLength(await count('messages_y2029m01'));
    const ids = lines.map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toEqual([...ids].sort());
    const row = JSON.parse(lines.find((l) => l.includes(tricky))!) as Record<string, unknown>;
    expect(row).toMatchObject({ body: TRICKY_BODY, html: '<p>“quoted”</p>', created_at: '2029-01-31T23:59:59.999+00:00' });
    expect(row.metadata_).toEqual({ trace_id: 't', user: { nested: { a: [1, 'two', null] }, 'key with "quotes"': true } });

    // A rerun finds the manifest and does not export again.
    expect((await archivePartition(pool(), store, 'messages_y2029m01')).exported).toBe(false);
  });

  it('restores an archive into a scratch table with identical rows, count and checksums', async () => {
    const m = (await readManifest(store, 'messages_y2029m01'))!;
    const r = await restoreArchive(pool(), store, 'messages_y2029m01', { table: 'restored_2029_01', batchSize: 400 });
    expect(r).toEqual({ table: 'restored_2029_01', rows: 1501, sha256: m.sha256, rowDigest: m.row_digest, attached: false });
    expect(await difference('restored_2029_01', 'messages_y2029m01', m)).toBe(0);
  });

  it('retires the month: detach concurrently, check the frozen table again, drop', async () => {
    const r = await retirePartition(pool(), store, 'messages_y2029m01');
    expect(r).toEqual({ outcome: 'dropped', rows: 1501 });
    expect(await stateOf('messages_y2029m01')).toBeUndefined();
    expect((await pool().query(`SELECT to_regclass('messages_y2029m01') AS t`)).rows[0]).toEqual({ t: null });
    expect(await getMessage(database.db, tricky)).toBeUndefined();
    // Rerun: nothing left to do, nothing fails.
    expect(await retirePartition(pool(), store, 'messages_y2029m01')).toEqual({ outcome: 'absent' });
    expect((await planRetirement(pool(), store, NOW, 12)).items.map((i) => i.partition)).toEqual(['messages_y2029m02']);
  });

  it('restore --attach makes an archived month a partition again', async () => {
    const m = (await readManifest(store, 'messages_y2029m01'))!;
    const r = await restoreArchive(pool(), store, 'messages_y2029m01', { table: 'messages_y2029m01', attach: true });
    expect(r).toMatchObject({ rows: 1501, attached: true, rowDigest: m.row_digest });
    expect((await getMessage(database.db, tricky))?.body).toBe(TRICKY_BODY);
    expect(await difference('messages_y2029m01', 'snap_messages_y2029m01', m)).toBe(0);
    // Still expired and archived: the next run retires it again without a new export.
    const again = await retirePartition(pool(), store, 'messages_y2029m01');
    expect(again).toEqual({ outcome: 'dropped', rows: 1501 });
  });

  it('a partial export leaves no archive and no manifest, and nothing is dropped without them', async () => {
    const before = await count('messages_y2029m02');
    const abort = new AbortController();
    await expect(
      archivePartition(pool(), store, 'messages_y2029m02', {
        signal: abort.signal,
        onProgress: (p) => {
          if (p.rows >= 500) abort.abort(new Error('worker killed'));
        },
      }),
    ).rejects.toThrow(/worker killed/);
    expect(readdirSync(dir).filter((f) => f.startsWith('messages_y2029m02'))).toEqual([]);
    await expect(retirePartition(pool(), store, 'messages_y2029m02')).rejects.toThrow(/no verified archive/);
    expect(await stateOf('messages_y2029m02')).toBe('attached');
    expect(await count('messages_y2029m02')).toBe(before);
  });

  it('a detach interrupted between its two transactions is finished with FINALIZE', async () => {
    await snapshot('messages_y2029m02');
    await archivePartition(pool(), store, 'messages_y2029m02');
    // An open snapshot makes the concurrent detach wait in its second transaction; cancel it there.
    const blocker = await pool().connect();
    const detacher = await pool().connect();
    try {
      await blocker.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await blocker.query('SELECT count(*) FROM messages');
      const pid = (await detacher.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const detach = detacher.query('ALTER TABLE messages DETACH PARTITION messages_y2029m02 CONCURRENTLY').then(
        () => 'finished',
        (e: Error) => e.message,
      );
      for (let i = 0; i < 100 && (await stateOf('messages_y2029m02')) !== 'detach_pending'; i++) await new Promise((r) => setTimeout(r, 50));
      await pool().query('SELECT pg_cancel_backend($1)', [pid]);
      expect(await detach).toBe('canceling statement due to user request');
    } finally {
      await blocker.query('COMMIT');
      blocker.release();
      detacher.release();
    }
    expect(await stateOf('messages_y2029m02')).toBe('detach_pending');
    const plan = await planRetirement(pool(), store, NOW, 12);
    expect(plan.items).toEqual([expect.objectContaining({ partition: 'messages_y2029m02', state: 'detach_pending', expired: true, archived: true })]);

    expect(await retirePartition(pool(), store, 'messages_y2029m02')).toEqual({ outcome: 'dropped', rows: 1500 });
    expect(await stateOf('messages_y2029m02')).toBeUndefined();
    const m = (await readManifest(store, 'messages_y2029m02'))!;
    await restoreArchive(pool(), store, 'messages_y2029m02', { table: 'restored_2029_02' });
    expect(await difference('restored_2029_02', 'snap_messages_y2029m02', m)).toBe(0);
  });

  it('a crash after the detach and before the drop leaves a table the next run finds and drops', async () => {
    await archivePartition(pool(), store, 'messages_y2029m03');
    await pool().query('ALTER TABLE messages DETACH PARTITION messages_y2029m03');
    // A month detached by hand, never archived, is not ours: it stays.
    await pool().query('ALTER TABLE messages DETACH PARTITION messages_y2029m04');
    const plan = await planRetirement(pool(), store, new Date('2030-04-15T00:00:00Z'), 12);
    expect(plan.items).toEqual([expect.objectContaining({ partition: 'messages_y2029m03', state: 'detached', expired: true, archived: true })]);
    expect(await retirePartition(pool(), store, 'messages_y2029m03')).toEqual({ outcome: 'dropped', rows: 1500 });
    expect(await stateOf('messages_y2029m03')).toBeUndefined();
    expect(await stateOf('messages_y2029m04')).toBe('detached');
    expect(await count('messages_y2029m04')).toBe(1500);
  });

  it('rows changed after the export are exported again from the detached table before the drop', async () => {
    const { rows } = await pool().query<{ id: string }>(`SELECT id FROM messages_y2029m05 WHERE status = 'sent' ORDER BY id LIMIT 1`);
    const id = rows[0]!.id;
    const first = (await archivePartition(pool(), store, 'messages_y2029m05')).manifest!;
    // A late receipt for a year-old message lands between the export and the detach.
    expect(await advanceStatus(database.db, id, { status: 'delivered', at: new Date('2030-03-14T00:00:00Z') })).toBe(true);
    await snapshot('messages_y2029m05');

    const r = await retirePartition(pool(), store, 'messages_y2029m05');
    expect(r).toEqual({ outcome: 'dropped', rows: 1500, reexported: 'rows changed since the export' });
    const second = (await readManifest(store, 'messages_y2029m05'))!;
    expect(second.row_digest).not.toBe(first.row_digest);
    // The first archive is kept aside, never overwritten.
    const kept = readdirSync(dir).filter((f) => f.startsWith('messages_y2029m05.superseded-'));
    expect(kept.filter((f) => f.endsWith('.manifest.json'))).toHaveLength(1);
    expect(kept.filter((f) => f.endsWith('.ndjson.gz'))).toHaveLength(1);
    await restoreArchive(pool(), store, 'messages_y2029m05', { table: 'restored_2029_05' });
    expect(await difference('restored_2029_05', 'snap_messages_y2029m05', second)).toBe(0);
    expect((await pool().query(`SELECT status FROM restored_2029_05 WHERE id = $1`, [id])).rows[0]).toEqual({ status: 'delivered' });
  });

  it('an archive file altered after it was verified is replaced from the detached table before the drop', async () => {
    await snapshot('messages_y2029m06');
    const m = (await archivePartition(pool(), store, 'messages_y2029m06')).manifest!;
    const path = join(dir, m.archive);
    const lines = gunzipSync(readFileSync(path)).toString('utf8').split('\n');
    writeFileSync(path, gzipSync(lines.slice(1).join('\n')));

    expect(await retirePartition(pool(), store, 'messages_y2029m06')).toEqual({
      outcome: 'dropped',
      rows: 1500,
      reexported: 'archive file differs from the verified one',
    });
    const fresh = (await readManifest(store, 'messages_y2029m06'))!;
    expect(fresh.sha256).toBe(m.sha256);
    await restoreArchive(pool(), store, 'messages_y2029m06', { table: 'restored_2029_06' });
    expect(await difference('restored_2029_06', 'snap_messages_y2029m06', fresh)).toBe(0);
  });

  it('a restore whose archive does not match its manifest fails and leaves nothing behind', async () => {
    const m = (await readManifest(store, 'messages_y2029m06'))!;
    const path = join(dir, m.archive);
    const good = readFileSync(path);
    const lines = gunzipSync(good).toString('utf8').split('\n');
    writeFileSync(path, gzipSync(lines.slice(0, -2).join('\n') + '\n'));
    try {
      await expect(restoreArchive(pool(), store, 'messages_y2029m06', { table: 'restored_bad' })).rejects.toThrow(/failed verification/);
      expect((await pool().query(`SELECT to_regclass('restored_bad') AS t`)).rows[0]).toEqual({ t: null });
    } finally {
      writeFileSync(path, good);
    }
  });

  it('one month is worked on by one run at a time', async () => {
    await withPartitionLock(pool(), 'messages_y2029m07', async () => {
      await expect(archivePartition(pool(), store, 'messages_y2029m07')).rejects.toBeInstanceOf(PartitionBusyError);
    });
    expect(existsSync(join(dir, 'messages_y2029m07.manifest.json'))).toBe(false);
  });

  it('a DEFAULT partition stops the plan: the policy is none', async () => {
    await pool().query('CREATE TABLE messages_default PARTITION OF messages DEFAULT');
    try {
      await expect(planRetirement(pool(), store, NOW, 12)).rejects.toBeInstanceOf(DefaultPartitionError);
    } finally {
      await pool().query('DROP TABLE messages_default');
    }
  });
});
