/** Where a command writes: process.stdout / process.stderr, or a test's buffer. */
export interface Output {
  write(chunk: string): unknown;
  /** A terminal: `--watch` redraws in place instead of appending each change. */
  isTTY?: boolean;
}

export const NONE = '—';

export const shown = (v: string | number | boolean | null | undefined): string => (v === null || v === undefined || v === '' ? NONE : String(v));

/** Columns padded to their widest cell; the last one is not padded. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, indent = ''): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    indent +
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `label   value` lines, the values aligned; a null or empty value shows as a dash. */
export function fields(pairs: ReadonlyArray<readonly [string, string | number | boolean | null | undefined]>, indent = '  '): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${indent}${k.padEnd(width)}  ${shown(v)}`).join('\n');
}

/** `[#######-------]  47%`: `done` of `total`, never over 100 %. */
export function progressBar(done: number, total: number, width = 30): string {
  const fraction = total > 0 ? Math.min(Math.max(done / total, 0), 1) : 0;
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)} %`;
}

/** 95 → "1m 35s"; null → a dash. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return NONE;
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** Milliseconds after a reference, as "+1.234s" (the history's pace at a glance). */
export function offset(iso: string, fromIso: string): string {
  const ms = Date.parse(iso) - Date.parse(fromIso);
  if (!Number.isFinite(ms)) return '';
  return `${ms < 0 ? '-' : '+'}${(Math.abs(ms) / 1000).toFixed(3)}s`;
}

export const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
