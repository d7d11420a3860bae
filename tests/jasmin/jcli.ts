import { connect, type Socket } from 'node:net';

// jCli is a telnet line editor (twisted conch): it negotiates options, echoes what
// we type and redraws prompts. We speak it expect-style: send a line, read until a prompt.

const MAIN_PROMPT = 'jcli : ';
const SUB_PROMPT = '> ';
const REFUSAL = /\b(error|failed|unknown|invalid|cannot|not (found|allowed|supported))\b/i;

export interface JCliOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  timeoutMs?: number;
}

export class JCliError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = 'JCliError';
  }
}

/** Telnet IAC sequences, ANSI escapes and carriage returns removed. */
export function cleanTerminal(raw: Buffer): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i += 1) {
    const b = raw[i] ?? 0;
    if (b === 0xff) {
      const cmd = raw[i + 1] ?? 0;
      if (cmd === 0xfa) {
        // Subnegotiation runs to IAC SE.
        while (i < raw.length && !(raw[i] === 0xff && raw[i + 1] === 0xf0)) i += 1;
        i += 1;
      } else {
        i += cmd >= 0xfb && cmd <= 0xfe ? 2 : 1;
      }
      continue;
    }
    bytes.push(b);
  }
  return (
    Buffer.from(bytes)
      .toString('utf8')
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b(\[[0-9;?]*[A-Za-z]|[A-Za-z])/g, '')
      .replace(/\r/g, '')
  );
}

export class JCli {
  private buffer = '';
  private waiter: (() => void) | undefined;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer += cleanTerminal(chunk);
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  static async connect(opts: JCliOptions): Promise<JCli> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: opts.host, port: opts.port }, () => resolve(s));
      s.once('error', reject);
    });
    const cli = new JCli(socket, opts.timeoutMs ?? 15_000);
    try {
      await cli.readUntil('Authentication required.');
      cli.write(opts.username);
      await cli.readUntil('Password: ');
      cli.write(opts.password);
      const out = await cli.readUntil(MAIN_PROMPT, 'Incorrect Username/Password.');
      if (out.includes('Incorrect Username/Password.')) throw new JCliError('jCli refused the admin credentials', out);
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return cli;
  }

  /** Runs one command and returns its output (without the echo and the prompt). */
  async run(command: string): Promise<string> {
    this.write(command);
    return stripEcho(await this.readUntil(MAIN_PROMPT), command, MAIN_PROMPT);
  }

  /**
   * The interactive add/update dialogue (`group -a`, `user -u foo`, ...): one `key value`
   * line per field, then `ok`. Throws with jCli's words when it refuses a field or the save.
   */
  async dialogue(command: string, fields: ReadonlyArray<readonly [string, string | number]>, expect: RegExp): Promise<string> {
    this.write(command);
    const opened = await this.readUntil(SUB_PROMPT, MAIN_PROMPT);
    if (opened.endsWith(MAIN_PROMPT)) throw new JCliError(`jCli refused '${command}'`, opened);
    for (const [key, value] of fields) {
      const line = `${key} ${value}`;
      this.write(line);
      const answer = stripEcho(await this.readUntil(SUB_PROMPT, MAIN_PROMPT), line, SUB_PROMPT);
      // Some keys answer with help text (mtrouter's `type` lists its arguments): only error words refuse.
      if (REFUSAL.test(answer)) {
        await this.abandon();
        throw new JCliError(`jCli refused '${key}' in '${command}': ${answer.trim()}`, answer);
      }
    }
    this.write('ok');
    const saved = await this.readUntil(MAIN_PROMPT, SUB_PROMPT);
    if (!saved.endsWith(MAIN_PROMPT)) await this.abandon();
    const out = stripEcho(saved, 'ok', MAIN_PROMPT);
    if (!expect.test(out)) throw new JCliError(`jCli did not save '${command}': ${out.trim()}`, out);
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.write('quit');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 1000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async abandon(): Promise<void> {
    this.write('ko');
    await this.readUntil(MAIN_PROMPT);
  }

  private write(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  /** Consumes the buffer up to and including the first of `markers` to appear at its end. */
  private async readUntil(...markers: string[]): Promise<string> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      // Prompts count only at the end of what arrived; messages anywhere in it.
      const hit = markers.find((m) => (m.endsWith(' ') ? this.buffer.endsWith(m) : this.buffer.includes(m)));
      if (hit) {
        const out = this.buffer;
        this.buffer = '';
        return out;
      }
      if (this.closed) throw new JCliError(`jCli closed the connection while waiting for '${markers.join("' or '")}'`, this.buffer);
      const left = deadline - Date.now();
      if (left <= 0) throw new JCliError(`jCli did not answer '${markers.join("' or '")}' within ${this.timeoutMs} ms`, this.buffer);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }
}

function stripEcho(out: string, typed: string, prompt: string): string {
  let text = out.endsWith(prompt) ? out.slice(0, -prompt.length) : out;
  if (text.startsWith(typed)) text = text.slice(typed.length);
  return text.replace(/^\n+/, '').replace(/\n+$/, '');
}
