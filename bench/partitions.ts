import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, type Pool } from 'pg';
import { connect } from '../db/client';
import { migrate } from '../db/migrate';
import { findMessageByProviderId, getMessage, listMessages } from '../db/messages';
import { archivePartition, retirePartition } from '../db/archive/lifecycle';
import { isoDate, monthOffset, monthStart, partitionName } from '../db/archive/months';
import { restoreArchive } from '../db/archive/restore';
import { DirectoryArchiveStore } from '../db/archive/store';
import { machineLine, percentile } from './machine';

// Query latency on a partitioned messages table at production-like size:
// ≥ 5 M rows over 13 months, in a scratch database dropped afterwards.
// `npm run bench:partitions [-- --rows 5200000 --samples 2000 --keep]`

const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ScratchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh database on the local server (tests and benches that need their own set of months). */
export async function createScratchDatabase(prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const a = new Client({ connectionString: ADMIN_URL });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

export interface SeedOptions {
  /** [from, to) of created_at; must lie within existing partitions. */
  from: Date;
  to: Date;
  rows: number;
  accounts: string[];
  /** Channel i belongs to account i % accounts.length. */
  channels: string[];
}

/**
 * Inserts `rows` messages with created_at spread over [from, to) in one
 * INSERT ... SELECT. Each id is a UUIDv7 carrying its row's created_at (at
 * millisecond precision), as the application writes them.
 */
export async function seedMessages(pool: Pool, o: SeedOptions): Promise<void> {
  await pool.query(
    `INSERT INTO messages (id, created_at, account_id, channel_id, channel_type, direction, to_address, body, status,
                           workflow_id, metadata_, sent_at)
     SELECT id, created_at, ($4::uuid[])[1 + (c % array_length($4::uuid[], 1))], ($5::uuid[])[1 + c], 'sms', 'outbound',
            '+1555' || lpad((g % 10000000)::text, 7, '0'), 'Your code is ' || (g % 1000000), st, 'message-' || id,
            jsonb_build_object('provider_message_id', 'SM' || h, 'trace_id', substr(md5(h), 1, 32)),
            CASE WHEN st <> 'failed' THEN created_at + interval '1 second' END
     FROM (
       SELECT g, h, c, 'epoch'::timestamptz + ms * interval '1 millisecond' AS created_at,
              (lpad(to_hex(ms), 12, '0') || '7' || substr(h, 1, 3) || substr('89ab', 1 + (g % 4)::int, 1) || substr(h, 4, 15))::uuid AS id,
              (ARRAY['delivered','delivered','delivered','delivered','delivered','delivered','sent','sent','failed','read'])[1 + get_byte(decode(h, 'hex'), 0) % 10] AS st
       FROM (
         SELECT g, md5(g::text || random()::text) AS h, (g % array_length($5::uuid[], 1))::int AS c,
                ($1::bigint + floor(random() * ($2::bigint - $1::bigint)))::bigint AS ms
         FROM generate_series(1, $3::bigint) g
       ) s
     ) x`,
    [o.from.getTime(), o.to.getTime(), o.rows, o.accounts, o.channels],
  );
}

function fakeUuids(n: number, tag: number): string[] {
  return Array.from({ length: n }, (_, i) => `0190${tag.toString(16).padStart(4, '0')}-0000-7000-8000-${(i + 1).toString(16).padStart(12, '0')}`);
}

type Latency = { p50: number; p99: number; mean: number };

/**
 * Runs the operations round-robin (call i of every operation, then call i + 1),
 * so a burst of other work on the machine hits them all alike; 200 warm-up rounds first.
 */
async function timeAll<K extends string>(samples: number, ops: Record<K, (i: number) => Promise<unknown>>): Promise<Record<K, Latency>> {
  const names = Object.keys(ops) as K[];
  const ms = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let i = -Math.min(200, samples); i < samples; i++) {
    for (const n of names) {
      const t = process.hrtime.bigint();
      await ops[n](Math.abs(i));
      if (i >= 0) ms[n].push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return Object.fromEntries(
    names.map((n) => {
      const sorted = [...ms[n]].sort((a, b) => a - b);
      return [n, { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length) }];
    }),
  ) as Record<K, Latency>;
}

/** One month through the archival path: export + verify, restore + check, detach + check + drop. */
async function timeArchival(pool: Pool, partition: string) {
  const dir = mkdtempSync(join(tmpdir(), 'turumba-bench-archive-'));
  try {
    const store = new DirectoryArchiveStore(dir);
    const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;
    let t = Date.now();
    const { manifest } = await archivePartition(pool, store, partition);
    const exportSeconds = seconds(t);
    t = Date.now();
    await restoreArchive(pool, store, partition, { table: 'bench_restored' });
    const restoreSeconds = seconds(t);
    t = Date.now();
    await retirePartition(pool, store, partition);
    return {
      partition,
      rows: manifest?.rows ?? 0,
      gz_bytes: manifest?.bytes ?? 0,
      export_verify_seconds: exportSeconds,
      export_rows_per_second: Math.round((manifest?.rows ?? 0) / exportSeconds),
      restore_seconds: restoreSeconds,
      retire_seconds: seconds(t),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rows: { type: 'string', default: '5200000' }, samples: { type: 'string', default: '2000' }, keep: { type: 'boolean', default: false } },
  });
  const totalRows = Number(values.rows);
  const samples = Number(values.samples);
  const now = new Date();
  const scratch = await createScratchDatabase('turumba_bench_partitions');
  const database = connect(scratch.url, { max: 4 });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  try {
    const first = monthOffset(now, -12);
    await migrate(scratch.url, now);
    await database.pool.query('SELECT ensure_message_partitions($1::date, 15)', [isoDate(first)]);
    const accounts = fakeUuids(50, 1);
    const channels = fakeUuids(200, 2);
    const perMonth = Math.ceil(totalRows / 13);
    const loadStart = Date.now();
    const months = Array.from({ length: 13 }, (_, i) => monthOffset(first, i));
    // Two months at a time: one per core of a small machine.
    for (let i = 0; i < months.length; i += 2) {
      await Promise.all(
        months.slice(i, i + 2).map((m) => {
          const to = m.getTime() === monthStart(now).getTime() ? now : monthOffset(m, 1);
          return seedMessages(database.pool, { from: m, to, rows: perMonth, accounts, channels });
        }),
      );
    }
    const loadSeconds = (Date.now() - loadStart) / 1000;
    await database.pool.query('VACUUM ANALYZE messages');
    const total = Number((await database.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM messages')).rows[0]?.n ?? 0);
    const size = (
      await database.pool.query<{ size: string }>(
        "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) AS size FROM pg_inherits WHERE inhparent = 'messages'::regclass",
      )
    ).rows[0]?.size;

    type Sample = { id: string; account_id: string; channel_id: string; pmid: string; created_at: Date };
    const sample = async (where: string) =>
      (
        await database.pool.query<Sample>(
          `SELECT id, account_id, channel_id, metadata_->>'provider_message_id' AS pmid, created_at
           FROM messages TABLESAMPLE SYSTEM (1) WHERE ${where} ORDER BY random() LIMIT ${samples}`,
        )
      ).rows;
    const anyRows = await sample('true');
    const recent = await sample(`created_at >= now() - interval '20 days'`);
    const old = await sample(`created_at < date_trunc('month', now()) - interval '2 months'`);
    const pick = <T>(xs: T[], i: number): T => xs[i % xs.length] as T;
    const loadBefore = Math.round(loadavg()[0]! * 10) / 10;
    const days = Math.floor((now.getTime() - first.getTime()) / 86_400_000);

    const results = await timeAll(samples, {
      get_by_id: (i) => getMessage(database.db, pick(anyRows, i).id, pick(anyRows, i).account_id),
      list_account_1_day: (i) => {
        const day = new Date(first.getTime() + ((i * 7919) % days) * 86_400_000);
        return listMessages(database.db, { accountId: pick(accounts, i), since: day, until: new Date(day.getTime() + 86_400_000), limit: 50 });
      },
      webhook_lookup_recent: (i) => findMessageByProviderId(database.db, pick(recent, i).channel_id, pick(recent, i).pmid, now),
      webhook_lookup_older_fallback: (i) => findMessageByProviderId(database.db, pick(old, i).channel_id, pick(old, i).pmid, now),
      // The lookup as it was before it was bounded: every month, for comparison.
      webhook_lookup_recent_unbounded: (i) =>
        database.pool.query(`SELECT * FROM messages WHERE metadata_->>'provider_message_id' = $1 AND channel_id = $2 LIMIT 1`, [
          pick(recent, i).pmid,
          pick(recent, i).channel_id,
        ]),
    });
    const archival = await timeArchival(database.pool, partitionName(first));
    const { rows: pg } = await database.pool.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    const report = {
      machine: machineLine(),
      postgres: pg[0]?.v,
      rows: total,
      months: 13,
      partitions_size: size,
      load_seconds: Math.round(loadSeconds),
      samples,
      // Other work on the machine skews the tails: the load average says how much there was.
      load_average_1m: { before_queries: loadBefore, after: Math.round(loadavg()[0]! * 10) / 10 },
      latency_ms: results,
      archival,
    };
    out(`partitions bench — ${report.machine}, PostgreSQL ${report.postgres}`);
    out(`${total.toLocaleString('en')} rows over 13 months (+3 empty ahead), ${size}, loaded in ${report.load_seconds} s`);
    out(`${samples} samples per query after 200 warm-up rounds, round-robin, one call at a time; load average ${loadBefore} → ${report.load_average_1m.after}`);
    out(`${'query'.padEnd(42)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
    for (const [k, v] of Object.entries(results)) out(`${k.padEnd(42)} ${v.p50.toFixed(3).padStart(8)} ${v.p99.toFixed(3).padStart(8)}`);
    out(
      `archive ${archival.partition}: ${archival.rows.toLocaleString('en')} rows → ${Math.round(archival.gz_bytes / 2 ** 20)} MiB gz; ` +
        `export+verify ${archival.export_verify_seconds} s (${archival.export_rows_per_second.toLocaleString('en')} rows/s), ` +
        `restore+check ${archival.restore_seconds} s, detach+check+drop ${archival.retire_seconds} s`,
    );
    const dir = join(__dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `partitions-${now.toISOString().slice(0, 10)}.json`), `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await database.close();
    if (values.keep) out(`kept scratch database ${scratch.name}`);
    else await scratch.drop();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
