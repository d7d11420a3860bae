import { describe, expect, it } from 'vitest';
import { monthsAhead, type PartitionRange } from './partitions-ahead';

const month = (y: number, m: number): PartitionRange => ({ from: Date.UTC(y, m - 1, 1), to: Date.UTC(y, m, 1) });
const now = new Date(Date.UTC(2026, 10, 28, 5, 0)); // 2026-11-28

describe('monthsAhead', () => {
  it('counts whole months after the current one, across a year end', () => {
    expect(monthsAhead([month(2026, 11), month(2026, 12), month(2027, 1), month(2027, 2)], now)).toBe(3);
    expect(monthsAhead([month(2026, 10), month(2026, 11)], now)).toBe(0);
  });

  it('stops at the first gap', () => {
    expect(monthsAhead([month(2026, 11), month(2026, 12), month(2027, 2), month(2027, 3)], now)).toBe(1);
  });

  it('is -1 when the current month is not (fully) covered', () => {
    expect(monthsAhead([], now)).toBe(-1);
    expect(monthsAhead([month(2026, 12), month(2027, 1)], now)).toBe(-1);
    expect(monthsAhead([{ from: Date.UTC(2026, 10, 1), to: Date.UTC(2026, 10, 15) }], now)).toBe(-1);
  });

  it('reads coverage from bounds, so differently cut partitions count', () => {
    const halves = [
      { from: Date.UTC(2026, 10, 1), to: Date.UTC(2026, 11, 15) },
      { from: Date.UTC(2026, 11, 15), to: Date.UTC(2027, 1, 1) },
    ];
    expect(monthsAhead([...halves].reverse(), now)).toBe(2);
  });
});
