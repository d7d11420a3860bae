import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../cli/temporal-dev';
import { JCli } from './jcli';
import { jasminConfig, type JasminPorts } from './jasmin-config';

export const JASMIN_VERSION = '0.11.0';
const ROOT = resolve(__dirname, '..', '..');
const LAUNCHER = join(ROOT, 'scripts', 'jasmin', 'jasmind-launcher.py');
export const JCLI_ADMIN = { username: 'jcliadmin', password: 'jclipwd' } as const;

export interface Endpoint {
  host: string;
  port: number;
}

export interface JasminOptions {
  redis?: Endpoint;
  amqp?: Endpoint & { username?: string; password?: string; vhost?: string };
  /** Python log level for every Jasmin log (default INFO). */
  logLevel?: 'DEBUG' | 'INFO' | 'WARNING';
  /** Extra `[section] key = value` settings, merged over the harness's. */
  config?: Record<string, Record<string, string | number>>;
  startTimeoutMs?: number;
}

export interface JasminInstance {
  version: string;
  /** http://127.0.0.1:<port>, the HTTP API (/send, /balance, /ping, /metrics). */
  httpUrl: string;
  ports: JasminPorts;
  vhost: string;
  /** Config, store, logs and jasmind's own output live here. */
  dir: string;
  /** A new admin jCli session; close it when done. */
  jcli(): Promise<JCli>;
  /** Text of a log file under dir/logs (e.g. 'messages.log', 'dlr-thrower.log'); '' when absent. */
  log(name: string): string;
  /** Jasmin's own Prometheus counters from GET /metrics, by series (e.g. 'httpapi_throughput_error_count', 'smppc_submit_sm_count{cid="x"}'). */
  metrics(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export type Availability = { ok: true; venv: string } | { ok: false; reason: string };

export function jasminVenv(): string {
  return process.env.JASMIN_VENV ?? join(ROOT, '.jasmin-venv');
}

/** Whether scripts/jasmin/install.sh has installed the pinned Jasmin (synchronous, for describe.skipIf). */
export function jasminInstalled(): Availability {
  const venv = jasminVenv();
  const marker = join(venv, '.turumba-jasmin');
  if (!existsSync(join(venv, 'bin', 'jasmind.py')) || !existsSync(marker)) {
    return { ok: false, reason: `Jasmin is not installed in ${venv}: run scripts/jasmin/install.sh` };
  }
  const installed = readFileSync(marker, 'utf8').split(' ')[0];
  if (installed !== `jasmin==${JASMIN_VERSION}`) {
    return { ok: false, reason: `${venv} has ${installed}, not jasmin==${JASMIN_VERSION}: run scripts/jasmin/install.sh` };
  }
  return { ok: true, venv };
}

/** Installed, and Redis and RabbitMQ answer on their ports. */
export async function jasminAvailable(opts: Pick<JasminOptions, 'redis' | 'amqp'> = {}): Promise<Availability> {
  const installed = jasminInstalled();
  if (!installed.ok) return installed;
  for (const [name, ep] of [
    ['Redis', opts.redis ?? DEFAULT_REDIS],
    ['RabbitMQ', opts.amqp ?? DEFAULT_AMQP],
  ] as const) {
    if (!(await reachable(ep))) return { ok: false, reason: `${name} is not reachable at ${ep.host}:${ep.port} (Jasmin needs it)` };
  }
  return installed;
}

const DEFAULT_REDIS: Endpoint = { host: '127.0.0.1', port: 6379 };
const DEFAULT_AMQP: Endpoint = { host: '127.0.0.1', port: 5672 };

/**
 * Starts jasmind (HTTP API, jCli, DLR lookup and DLR thrower in one process, as Jasmin's own
 * Docker image runs it) on free ports with its config, store and logs in a fresh temp dir,
 * and waits until the HTTP API and jCli answer.
 */
export async function startJasmin(opts: JasminOptions = {}): Promise<JasminInstance> {
  const installed = jasminInstalled();
  if (!installed.ok) throw new Error(installed.reason);
  const venv = installed.venv;
  const dir = mkdtempSync(join(tmpdir(), 'turumba-jasmin-'));
  mkdirSync(join(dir, 'logs'));
  mkdirSync(join(dir, 'store'));

  const ports: JasminPorts = {
    http: await freePort(),
    jcli: await freePort(),
    router: await freePort(),
    clientManagement: await freePort(),
    smppServer: await freePort(),
    smppServerPb: await freePort(),
  };
  const vhost = opts.amqp?.vhost ?? (await createVhost(`${VHOST_PREFIX}${process.pid}-${ports.http}`));
  const configPath = join(dir, 'jasmin.cfg');
  writeFileSync(
    configPath,
    jasminConfig({
      dir,
      ports,
      redis: opts.redis ?? DEFAULT_REDIS,
      amqp: { ...DEFAULT_AMQP, username: 'guest', password: 'guest', ...opts.amqp, vhost, spec: amqpSpec(venv) },
      logLevel: opts.logLevel ?? 'INFO',
      overrides: opts.config ?? {},
    }),
  );

  const python = join(venv, 'bin', 'python');
  const args = [LAUNCHER, join(dir, 'jasmind'), join(venv, 'bin', 'jasmind.py'), '-c', configPath, '--enable-dlr-lookup', '--enable-dlr-thrower'];
  const out = join(dir, 'jasmind.out');
  const child = spawn(python, args, {
    cwd: dir,
    // Jasmin reads paths and any `<SECTION>_<KEY>` override from its environment: give it only ours.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ROOT_PATH: dir, LOG_PATH: join(dir, 'logs'), CONFIG_PATH: dir, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const httpUrl = `http://127.0.0.1:${ports.http}`;
  const shutdown = async (keepDir: boolean) => {
    process.removeListener('exit', killOnExit);
    await terminate(child);
    writeFileSync(out, output);
    if (!opts.amqp?.vhost && vhost !== '/') await deleteVhost(vhost);
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitReady(child, httpUrl, ports.jcli, opts.startTimeoutMs ?? 30_000, () => output);
  } catch (err) {
    await shutdown(true);
    throw new Error(`${(err as Error).message}; jasmind output and logs kept in ${dir}`);
  }

  return {
    version: JASMIN_VERSION,
    httpUrl,
    ports,
    vhost,
    dir,
    jcli: () => JCli.connect({ host: '127.0.0.1', port: ports.jcli, ...JCLI_ADMIN }),
    log(name) {
      const file = join(dir, 'logs', name);
      return existsSync(file) ? readFileSync(file, 'utf8') : '';
    },
    async metrics() {
      const text = await (await fetch(`${httpUrl}/metrics`)).text();
      const series: Record<string, number> = {};
      for (const line of text.split('\n')) {
        const m = /^([a-z_]+(?:\{[^}]*\})?) (-?[\d.]+)$/.exec(line.trim());
        if (m?.[1] && m[2]) series[m[1]] = Number(m[2]);
      }
      return series;
    },
    stop: () => shutdown(process.env.JASMIN_KEEP_DIR === '1'),
  };
}

async function waitReady(child: ChildProcess, httpUrl: string, jcliPort: number, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  for (;;) {
    if (exited !== undefined) throw new Error(`jasmind exited (code ${exited}) before it was ready: ${output().trim().slice(-2000)}`);
    const pong = await fetch(`${httpUrl}/ping`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.text())
      .catch(() => '');
    if (pong === 'Jasmin/PONG') {
      const cli = await JCli.connect({ host: '127.0.0.1', port: jcliPort, ...JCLI_ADMIN, timeoutMs: 5000 }).catch(() => undefined);
      if (cli) {
        await cli.close();
        return;
      }
    }
    if (Date.now() > deadline) throw new Error(`jasmind not ready within ${timeoutMs} ms: ${output().trim().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** txamqp ships the AMQP 0-9-1 spec Jasmin loads; the PyPI package of Jasmin does not carry its own copy. */
function amqpSpec(venv: string): string {
  const lib = join(venv, 'lib');
  for (const py of readdirSync(lib)) {
    const spec = join(lib, py, 'site-packages', 'txamqp', 'specs', 'standard', 'amqp0-9-1.stripped.xml');
    if (existsSync(spec)) return spec;
  }
  throw new Error(`txamqp's amqp0-9-1 spec not found under ${lib}: reinstall with scripts/jasmin/install.sh`);
}

const run = promisify(execFile);

/**
 * Jasmin's queue names (dlr_thrower, DLRLookup-main, RouterPB_*) are fixed: two gateways on one
 * vhost would consume each other's receipts. Each instance gets its own vhost when rabbitmqctl
 * can make one (root on this machine), else shares '/'.
 */
async function createVhost(name: string): Promise<string> {
  try {
    await dropStaleVhosts();
    await run('rabbitmqctl', ['add_vhost', name], { timeout: 20_000 });
    await run('rabbitmqctl', ['set_permissions', '-p', name, 'guest', '.*', '.*', '.*'], { timeout: 20_000 });
    return name;
  } catch {
    return '/';
  }
}

const VHOST_PREFIX = 'turumba-jasmin-';

/** Vhosts left by a harness process that died before its stop() (the name carries its pid). */
async function dropStaleVhosts(): Promise<void> {
  const { stdout } = await run('rabbitmqctl', ['list_vhosts', '--quiet', '--no-table-headers'], { timeout: 20_000 });
  for (const name of stdout.split('\n').map((l) => l.trim())) {
    const pid = new RegExp(`^${VHOST_PREFIX}(\\d+)-\\d+$`).exec(name)?.[1];
    if (pid && !alive(Number(pid))) await deleteVhost(name);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function deleteVhost(name: string): Promise<void> {
  await run('rabbitmqctl', ['delete_vhost', name], { timeout: 20_000 }).catch(() => undefined);
}

function reachable(ep: Endpoint): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: ep.host, port: ep.port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
