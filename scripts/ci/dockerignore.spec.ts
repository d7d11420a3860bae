import { describe, expect, it } from 'vitest';
import { parseDockerIgnore } from './dockerignore';
import { interpolate, isBareReference, references } from './interpolation';

describe('parseDockerIgnore', () => {
  const ignore = parseDockerIgnore(
    ['# comment', 'node_modules', '/dist/', 'tests', '**/*.spec.ts', '*.log', '!keep.log', 'observability/*.yml', 'docs/**', '!docs/keep.md'].join('\n'),
  );

  it.each([
    ['node_modules', true],
    ['node_modules/pg/index.js', true],
    ['adapters/node_modules/x', false],
    ['dist/api/main.js', true],
    ['tests/e2e/sms.test.ts', true],
    ['adapters/sms/twilio.spec.ts', true],
    ['a.spec.ts', true],
    ['adapters/sms/twilio.ts', false],
    ['debug.log', true],
    ['logs/debug.log', false],
    ['keep.log', false],
    ['observability/prometheus.yml', true],
    ['observability/grafana/provisioning/x.yml', false],
    ['observability/metrics.ts', false],
    ['docs/operations.md', true],
    ['docs/keep.md', false],
  ])('%s excluded: %s', (path, excluded) => {
    expect(ignore.excludes(path)).toBe(excluded);
  });

  it('names the deciding line', () => {
    expect(ignore.decidingPattern('keep.log')).toBe('!keep.log');
    expect(ignore.decidingPattern('tests/x')).toBe('tests');
  });
});

describe('compose interpolation', () => {
  const env = { SET: 'value', EMPTY: '' };

  it('resolves defaults, alternatives and escapes like compose', () => {
    expect(interpolate('${SET:-d}/${UNSET:-d}/${EMPTY:-d}/${EMPTY-d}', env)).toBe('value/d/d/');
    expect(interpolate('${UNSET:-${SET}}-${SET:+alt}-${UNSET:+alt}', env)).toBe('value-alt-');
    expect(interpolate('$$SET is $SET', env)).toBe('$SET is value');
    expect(interpolate('${UNSET:?needed}', env)).toBe('');
  });

  it('lists references, nested ones too', () => {
    expect(references('${A:-${B}}:$C').map((r) => r.name)).toEqual(['A', 'B', 'C']);
    expect(() => references('${A')).toThrow('unclosed');
  });

  it('calls only a lone reference without a default "bare"', () => {
    expect(isBareReference('${PASSWORD}')).toBe(true);
    expect(isBareReference('${PASSWORD:?set it in .env}')).toBe(true);
    expect(isBareReference('${PASSWORD:-postgres}')).toBe(false);
    expect(isBareReference('x${PASSWORD}')).toBe(false);
    expect(isBareReference('postgres')).toBe(false);
  });
});
