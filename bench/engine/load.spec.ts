import { describe, expect, it } from 'vitest';
import { barChartSvg } from './chart';
import { closedLoop, spread } from './load';

describe('closedLoop', () => {
  it('runs every item once and never more than `concurrency` at a time', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await closedLoop(25, 4, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      seen.push(i);
      inFlight--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(peak).toBe(4);
  });
});

describe('spread', () => {
  it('reports p50 and p99 of unsorted samples', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(spread(values)).toEqual({ p50: 51, p99: 100 });
  });
});

describe('barChartSvg', () => {
  it('scales bars to the largest value and escapes labels', () => {
    const svg = barChartSvg('t', 'msg/s', [
      { label: 'a<b', value: 50, color: '#111' },
      { label: 'c', value: 100, color: '#222' },
    ]);
    expect(svg).toContain('a&lt;b');
    // Plot width is 900 - 200 - 140 = 560: the largest bar fills it, the half-value bar half of it.
    expect(svg).toContain('width="560.0"');
    expect(svg).toContain('width="280.0"');
  });
});
