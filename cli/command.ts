import type { ParseArgsConfig } from 'node:util';
import { ApiClient, apiTarget, type Env } from './api-client';
import type { Output } from './output';

export interface CliIo {
  stdout: Output;
  stderr: Output;
  env: Env;
}

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface CommandContext {
  values: Values;
  positionals: string[];
  io: CliIo;
  /** The API named by --api-url/--api-key, the environment or the dev stack's file. */
  api: () => ApiClient;
}

export interface Command {
  /** The words that name it: `message show`. */
  name: string;
  /** Arguments after the name, as --help shows them: `<id> [--json]`. */
  args: string;
  summary: string;
  /** More lines for `cli <command> --help`. */
  help?: string;
  options: Options;
  /** Names of the positional arguments, all required. */
  positionals?: readonly string[];
  /** Talks to the API: takes --api-url, --api-key and --json. */
  api?: boolean;
  run(ctx: CommandContext): Promise<number>;
}

/** The command line is wrong: exit 2 (the database commands keep their 64), with the command's usage. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export const API_OPTIONS: Options = {
  json: { type: 'boolean' },
  'api-url': { type: 'string' },
  'api-key': { type: 'string' },
};

export function apiClient(values: Values, env: Env): ApiClient {
  const str = (k: string) => (typeof values[k] === 'string' ? values[k] : undefined);
  return new ApiClient(apiTarget({ apiUrl: str('api-url'), apiKey: str('api-key') }, env));
}

export const str = (values: Values, key: string): string | undefined => (typeof values[key] === 'string' ? values[key] : undefined);

/** A whole number within bounds, or a usage error naming the flag. */
export function intFlag(values: Values, flag: string, min: number, max: number): number | undefined {
  const raw = str(values, flag);
  if (raw === undefined) return undefined;
  if (!/^\d{1,12}$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, not "${raw}"`);
  return Number(raw);
}

const AGO = /^(\d{1,6})(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A date or date-time (2025-01-31, 2025-01-31T12:00:00Z) or a time ago (90m, 2d), as ISO 8601. */
export function timeFlag(values: Values, flag: string, now = Date.now()): string | undefined {
  const raw = str(values, flag);
  if (raw === undefined) return undefined;
  const ago = AGO.exec(raw);
  const ms = ago ? now - Number(ago[1]) * UNIT_MS[ago[2] as keyof typeof UNIT_MS] : Date.parse(raw);
  if (!Number.isFinite(ms)) throw new UsageError(`--${flag} is not a date or a time ago (e.g. 2025-01-31, 2025-01-31T12:00:00Z, 90m, 2d): "${raw}"`);
  return new Date(ms).toISOString();
}
