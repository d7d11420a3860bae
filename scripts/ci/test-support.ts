import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';

// Spec helpers: the checks run against a copy of this repository, broken one edit at a time.

export const REPO = join(__dirname, '..', '..');
const copies: string[] = [];

/** A copy of this repository's deployment files and sources (no node_modules, no state). */
export function repoCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'check-compose-'));
  copies.push(dir);
  for (const entry of readdirSync(REPO)) {
    const src = join(REPO, entry);
    const isDir = statSync(src).isDirectory();
    if (isDir && (entry.startsWith('.') || ['node_modules', 'dist', 'tests', 'bench'].includes(entry))) continue;
    cpSync(src, join(dir, entry), { recursive: true });
  }
  return dir;
}

/** Rewrites one file of the copy; fails the test when `from` is not in it (the fixture drifted). */
export function edit(dir: string, file: string, from: string, to: string): void {
  const text = readFileSync(join(dir, file), 'utf8');
  expect(text, `${file} should contain ${JSON.stringify(from)}`).toContain(from);
  writeFileSync(join(dir, file), text.replace(from, to));
}

export function removeCopies(): void {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true });
}
