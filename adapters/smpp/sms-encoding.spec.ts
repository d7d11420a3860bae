import { describe, expect, it } from 'vitest';
import { gsm7Length, pickCoding, smsParts, ucs2 } from './sms-encoding';

describe('GSM-7 or UCS-2', () => {
  it('counts extension characters as two septets and refuses characters GSM 03.38 lacks', () => {
    expect(gsm7Length('Hello @£$¥ ÄÖÑÜ§¿')).toBe(17);
    expect(gsm7Length('€[]{}')).toBe(10);
    expect(gsm7Length('ç')).toBeUndefined(); // only the capital Ç is in the basic set
    expect(gsm7Length('naïve')).toBeUndefined();
    expect(gsm7Length('\u001b')).toBeUndefined();
  });

  it('picks coding 8 only when it must, unless forced', () => {
    expect(pickCoding('Asante sana')).toBe(0);
    expect(pickCoding('مرحبا')).toBe(8);
    expect(pickCoding('Asante sana', 8)).toBe(8);
  });

  it('writes UCS-2 big-endian, astral characters as surrogate pairs', () => {
    expect(ucs2('Aé😀').toString('hex')).toBe('004100e9d83dde00');
  });

  it.each([
    ['a'.repeat(160), 0, 1],
    ['a'.repeat(161), 0, 2],
    ['a'.repeat(306), 0, 2],
    ['a'.repeat(307), 0, 3],
    ['€'.repeat(80), 0, 1],
    ['€'.repeat(81), 0, 2],
    ['ж'.repeat(70), 8, 1],
    ['ж'.repeat(71), 8, 2],
    ['ж'.repeat(134), 8, 2],
    ['ж'.repeat(135), 8, 3],
  ] as const)('splits case %# into as many parts as Jasmin', (text, coding, parts) => {
    expect(smsParts(text, coding)).toBe(parts);
  });
});
