import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from '../support/stack';

// /docs in a real browser: the page is Swagger UI, which draws the reference from /docs/json
// with its own JavaScript, so the operations appear in the DOM only if that code ran.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const reason = `${CHROMIUM} not found: apt-get install chromium (.ci/run installs it)`;
// In CI a missing browser is a failure, not a skip.
const skip = !available && !process.env.CI;
if (skip) console.warn(`[tests/e2e/docs-browser] skipped: ${reason}`);

/** Flags that keep Chromium on 127.0.0.1: no background calls, no first-run setup, no other host resolved or reached. */
const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--metrics-recording-only',
  '--mute-audio',
  // Any other host: no address, and a proxy that does not exist (loopback always bypasses proxies).
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  '--proxy-server=http://127.0.0.1:9',
  // Virtual time runs until the page is idle (the spec fetched, the UI drawn), at most 10 s of it.
  '--virtual-time-budget=10000',
];

describe.skipIf(skip)('GET /docs in headless Chromium', () => {
  let stack: TestStack;
  let profile: string;
  const browsers = new Set<ChildProcess>();

  beforeAll(async () => {
    stack = await startStack({ inProcessWorker: false });
    profile = mkdtempSync(join(tmpdir(), 'docs-browser-'));
  });
  afterAll(async () => {
    for (const browser of browsers) killTree(browser);
    await stack?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** The DOM after the page's scripts ran (`--dump-dom`), and `context` for a failing assertion. */
  const dumpDom = (url: string, timeoutMs = 45_000) =>
    new Promise<{ dom: string; code: number | null; context: string }>((resolve, reject) => {
      // Its own process group, so the renderer and zygote go with it.
      const browser = spawn(CHROMIUM, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--dump-dom', url], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      browsers.add(browser);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      browser.stdout?.on('data', (c: Buffer) => out.push(c));
      browser.stderr?.on('data', (c: Buffer) => err.push(c));
      const timer = setTimeout(() => killTree(browser), timeoutMs);
      browser.on('error', (e) => {
        clearTimeout(timer);
        browsers.delete(browser);
        reject(e);
      });
      browser.on('close', (code) => {
        clearTimeout(timer);
        // Whatever it left behind in its group goes too.
        killTree(browser);
        browsers.delete(browser);
        const dom = Buffer.concat(out).toString('utf8');
        // Headless Chromium complains about the missing D-Bus on every start: not worth showing.
        const complaints = Buffer.concat(err)
          .toString('utf8')
          .split('\n')
          .filter((line) => line.trim() !== '' && !/dbus/i.test(line))
          .slice(-20);
        resolve({ dom, code, context: `chromium exited ${code}; stderr ends:\n${complaints.join('\n')}\nDOM starts:\n${dom.slice(0, 1500)}` });
      });
    });

  it('lists the operations, drawn by Swagger UI from /docs/json, without an API key', async () => {
    expect(available, reason).toBe(true);
    const { dom, code, context } = await dumpDom(`${stack.apiUrl}/docs`);
    expect(code, context).toBe(0);
    const listed = operationsIn(dom);
    for (const op of [
      'POST /v1/messages',
      'GET /v1/messages/{id}',
      'POST /v1/channels',
      'POST /v1/group-messages',
      'GET /v1/group-messages/{id}',
      'GET /health',
    ]) {
      expect(listed, context).toContain(op);
    }
    // The title and the summaries come from the same document.
    expect(/<h1 class="title">([^<]*)/.exec(dom)?.[1]?.trim(), context).toBe('Turumba Dispatch API');
    const summaries = [...dom.matchAll(/class="opblock-summary-description">([^<]*)</g)].map((m) => m[1]);
    expect(summaries, context).toContain('Send one message');
  });

  it('opens an operation from its link with the named example bodies to choose from', async () => {
    expect(available, reason).toBe(true);
    // Deep links (#/<tag>/<operation id>) expand the operation, its request body and examples included.
    const { dom, code, context } = await dumpDom(`${stack.apiUrl}/docs#/messages/post_v1_messages`);
    expect(code, context).toBe(0);
    const options = new Map([...dom.matchAll(/<option value="([^"]+)"[^>]*>([^<]*)<\/option>/g)].map((m) => [m[1], m[2]]));
    for (const name of ['sms', 'whatsapp_text', 'whatsapp_template', 'messenger', 'email', 'smpp'])
      expect(options.get(name), `${name}\n${context}`).toMatch(/\w/);
    expect(options.get('email')).toBe('Email with subject, text and HTML');
    // The first example's body is the one shown.
    const shown = /class="body-param__example[^"]*"[^>]*>([\s\S]*?)<\/pre>/.exec(dom)?.[1]?.replace(/<[^>]+>/g, '');
    expect(shown, context).toContain('Your verification code is 123456');
  });
});

/** `METHOD /path` of every operation Swagger UI drew (`.opblock-summary-method`, then `.opblock-summary-path[data-path]`). */
function operationsIn(dom: string): string[] {
  const ops: string[] = [];
  const block = /class="opblock-summary-method">([A-Z]+)<\/span>[\s\S]*?class="opblock-summary-path"[^>]*data-path="([^"]+)"/g;
  for (const m of dom.matchAll(block)) ops.push(`${m[1]} ${m[2]}`);
  return ops;
}

/** SIGKILL to the browser's process group (it leads one: spawned detached); gone already is fine. */
function killTree(browser: ChildProcess): void {
  if (browser.pid === undefined) return;
  try {
    process.kill(-browser.pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing of it is left.
  }
}
