import { describe, expect, it } from 'vitest';
import { HTML_TEXT_INPUT_LIMIT, HTML_TEXT_TAG_LIMIT, HTML_TEXT_TRUNCATED, htmlToText } from './html-text';

const MIB = 1024 * 1024;
const fill = (unit: string): string => unit.repeat(Math.ceil(MIB / unit.length)).slice(0, MIB);

describe('htmlToText', () => {
  it('keeps the text, paragraphs, list items and link targets; drops head, style, script and comments', () => {
    const html =
      '<html><head><title>T</title><style>p{color:red}</style></head><body>' +
      '<h1>Receipt</h1><!-- tracking --><script>alert(1)</script>' +
      '<p>Total: <b>12&nbsp;&euro;</b> &amp; tax &#x2713;</p>' +
      '<ul><li>one</li><li>two</li></ul>' +
      '<p><a href="https://turumba.test/r/1">View order</a> or <a href="https://turumba.test">https://turumba.test</a></p>' +
      '</body></html>';
    expect(htmlToText(html)).toBe('Receipt\n\nTotal: 12 € & tax ✓\n\n * one\n * two\n\nView order (https://turumba.test/r/1) or https://turumba.test');
  });

  it('converts a long body whole up to the limit and says where it cut past it', () => {
    const word = 'word ';
    const within = `<p>${word.repeat((HTML_TEXT_INPUT_LIMIT - 8) / word.length)}</p>`;
    expect(within.length).toBeLessThanOrEqual(HTML_TEXT_INPUT_LIMIT);
    expect(htmlToText(within).endsWith('word')).toBe(true);

    const beyond = `<p>${'x'.repeat(HTML_TEXT_INPUT_LIMIT)}TAIL</p>`;
    const text = htmlToText(beyond);
    expect(text).not.toContain('TAIL');
    expect(text.endsWith(`\n${HTML_TEXT_TRUNCATED}`)).toBe(true);
  });

  it('converts up to the tag limit whole and says where it cut past it', () => {
    const paragraphs = (n: number) => Array.from({ length: n }, (_, i) => `<p>w${i}</p>`).join('');
    const within = htmlToText(paragraphs(HTML_TEXT_TAG_LIMIT / 2));
    expect(within.endsWith(`w${HTML_TEXT_TAG_LIMIT / 2 - 1}`)).toBe(true);
    const beyond = htmlToText(`${paragraphs(HTML_TEXT_TAG_LIMIT / 2)}<p>TAIL</p>`);
    expect(beyond).not.toContain('TAIL');
    expect(beyond.endsWith(`w${HTML_TEXT_TAG_LIMIT / 2 - 1}\n${HTML_TEXT_TRUNCATED}`)).toBe(true);
  });

  // Each of these froze the regex converter for seconds to minutes (the first at 3,600
  // characters took 9 s); at 1 MiB each must stay far below a second of CPU.
  const hostile: Record<string, string> = {
    'unterminated <a href="': fill('<a href="'),
    'spaces before a newline': `${' '.repeat(MIB - 1)}\n`,
    'nested <div>': fill('<div>'),
    'nested <span>': fill('<span>'),
    'nested inline elements': fill('<b><i>'),
    'nested table cells': fill('<table><tr><td>'),
    'open comments': fill('<!--'),
    'unterminated <script': fill('<script '),
    'numeric entities': fill('&#x1F600'),
    'links with long labels': fill('<a href="https://x.test/">aaaaaaaaaaaaaaaaaaaaaa '),
    'unclosed attribute quotes': fill("<p class='"),
  };
  for (const [name, html] of Object.entries(hostile)) {
    it(`converts 1 MiB of ${name} in well under a second of CPU`, () => {
      expect(html.length).toBe(MIB);
      const before = process.cpuUsage();
      const text = htmlToText(html);
      const used = process.cpuUsage(before);
      const cpuMs = (used.user + used.system) / 1000;
      expect(typeof text).toBe('string');
      expect(cpuMs).toBeLessThan(300);
    });
  }
});
