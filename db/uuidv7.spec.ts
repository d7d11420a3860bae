import { describe, expect, it } from 'vitest';
import { isUuidv7, uuidv7, uuidv7Time } from './uuidv7';

describe('uuidv7', () => {
  it('encodes its creation time and version', () => {
    const t = Date.UTC(2026, 10, 28, 12, 34, 56, 789);
    const id = uuidv7(t);
    expect(isUuidv7(id)).toBe(true);
    expect(uuidv7Time(id).getTime()).toBe(t);
  });

  it('sorts by time, and within a millisecond by generation order', () => {
    const t = Date.now();
    const ids = Array.from({ length: 500 }, () => uuidv7(t));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(500);
    expect(uuidv7(t + 1) > ids[ids.length - 1]!).toBe(true);
  });

  it('refuses to read a time from a non-v7 id', () => {
    expect(() => uuidv7Time('7d444840-9dc0-11d1-b245-5ffdce74fad2')).toThrow(/UUIDv7/);
  });
});
