export type Level = 'error' | 'warning';

export interface Finding {
  level: Level;
  /** What the finding is about: `docker-compose.yml services.api.depends_on`, `Dockerfile:12` ... */
  where: string;
  message: string;
}

export class Findings {
  readonly list: Finding[] = [];

  error(where: string, message: string): void {
    this.list.push({ level: 'error', where, message });
  }

  warn(where: string, message: string): void {
    this.list.push({ level: 'warning', where, message });
  }

  get errors(): Finding[] {
    return this.list.filter((f) => f.level === 'error');
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
