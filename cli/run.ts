import { parseArgs } from 'node:util';
import { CHANNEL_COMMANDS } from './channel-commands';
import { API_OPTIONS, apiClient, UsageError, type CliIo, type Command } from './command';
import { DB_COMMANDS } from './db-commands';
import { GROUP_COMMANDS } from './group-commands';
import { MESSAGE_COMMANDS } from './message-commands';
import { replay } from './replay';

export type { CliIo } from './command';

export const COMMANDS: readonly Command[] = [...MESSAGE_COMMANDS, ...GROUP_COMMANDS, ...CHANNEL_COMMANDS, replay, ...DB_COMMANDS];

/** Other spellings an operator types. */
const ALIASES: Readonly<Record<string, string>> = { 'message list': 'messages list', 'messages show': 'message show', 'channels list': 'channel list' };

const synopsis = (c: Command) => `cli ${c.name}${c.args ? ` ${c.args}` : ''}`;

const COMMON = `connection (the API commands):
  --api-url <url> --api-key <key>     else TURUMBA_API_URL / TURUMBA_API_KEY, else the dev stack's .dev/stack.json
                                      (DEV_DIR overrides .dev); every request is scoped to the key's account
  --json                              the API's objects as one JSON document instead of tables
the account, key, quota and credentials commands talk to the database (DATABASE_URL), not the API.
exit status: 0 done, 1 failed (the API refused, a message not found, credentials not verified), 2 a usage error
(64 for the database commands). \`cli <command> --help\` says more about one.`;

/** The whole --help. */
export function usage(): string {
  const lines = COMMANDS.map((c) => `  ${synopsis(c)}\n      ${c.summary}`);
  return `usage: cli <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\n${COMMON}\n`;
}

function commandHelp(c: Command): string {
  const flags = c.api ? '\nflags of every API command: --json, --api-url <url>, --api-key <key> (see `cli --help`)' : '';
  return `usage: ${synopsis(c)}\n\n${c.summary}${c.help ? `\n${c.help}` : ''}${flags}\n`;
}

/** `message` and `messages` are one group. */
const groupOf = (word: string | undefined) => word?.replace(/s$/, '');
const inGroup = (c: Command, word: string) => groupOf(c.name.split(' ')[0]) === groupOf(word);

const groupHelp = (word: string) => {
  const members = COMMANDS.filter((c) => inGroup(c, word));
  return `${word} commands:\n${members.map((c) => `  ${synopsis(c)}\n      ${c.summary}`).join('\n')}\n`;
};

const isHelp = (arg: string | undefined) => arg === '--help' || arg === '-h';

/** The command `argv` starts with and the arguments after its name, or undefined. */
function find(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const typed = argv.slice(0, words).join(' ');
    const name = ALIASES[typed] ?? typed;
    const command = COMMANDS.find((c) => c.name === name);
    if (command && argv.length >= words) return { command, rest: argv.slice(words) };
  }
  return undefined;
}

/** An argument as it may be repeated in an error: an API key typed in the wrong place is not. */
const echoed = (arg: string) => (/^tdk_[0-9a-f]{12}_/.test(arg) ? '(an API key)' : `"${arg.length > 80 ? `${arg.slice(0, 80)}…` : arg}"`);

function parse(command: Command, rest: string[]) {
  const options = { ...command.options, ...(command.api ? API_OPTIONS : {}), help: { type: 'boolean', short: 'h' } } as const;
  try {
    return parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    const flag = /'(-[^' ]+)/.exec(e.message)?.[1] ?? '?';
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown flag ${flag} for \`cli ${command.name}\``);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new UsageError(/does not take/.test(e.message) ? `${flag} takes no value` : `${flag} needs a value`);
    }
    throw new UsageError(e.message);
  }
}

/**
 * Runs one command line and returns its exit status; every byte goes to `io`, so a test
 * runs it in-process. cli/main.ts is this with the process's streams and environment.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const fail = (message: string, code: number, hint?: string) => {
    io.stderr.write(`error: ${message}\n${hint ? `${hint}\n` : ''}`);
    return code;
  };
  const [first, second] = argv;
  if (first === undefined) return fail('no command given', 2, usage());
  if (isHelp(first) || (first === 'help' && argv.length === 1)) {
    io.stdout.write(usage());
    return 0;
  }
  if (first === 'help') return runCli([...argv.slice(1), '--help'], io);

  const found = find(argv);
  if (!found) {
    const group = COMMANDS.some((c) => c.name.includes(' ') && inGroup(c, first)) ? first : undefined;
    if (group && (second === undefined || isHelp(second))) {
      if (second !== undefined) {
        io.stdout.write(groupHelp(group));
        return 0;
      }
      return fail(`\`cli ${group}\` needs a subcommand`, 2, groupHelp(group));
    }
    const typed = argv.slice(0, group ? 2 : 1).join(' ');
    return fail(`unknown command: ${typed}`, 2, group ? groupHelp(group) : 'run `cli --help` for the commands');
  }

  const { command, rest } = found;
  const usageOf = `usage: ${synopsis(command)}\n(\`cli ${command.name} --help\` for more)`;
  try {
    const { values, positionals } = parse(command, rest);
    if (values.help) {
      io.stdout.write(commandHelp(command));
      return 0;
    }
    const wanted = command.positionals ?? [];
    if (positionals.length < wanted.length) throw new UsageError(`missing <${wanted[positionals.length] ?? 'argument'}>`);
    if (positionals.length > wanted.length) throw new UsageError(`unexpected argument ${echoed(positionals[wanted.length] ?? '')}`);
    return await command.run({ values, positionals, io, api: () => apiClient(values, io.env) });
  } catch (err) {
    if (err instanceof UsageError) return fail(err.message, err.exitCode, usageOf);
    return fail(err instanceof Error ? err.message : String(err), 1);
  }
}
