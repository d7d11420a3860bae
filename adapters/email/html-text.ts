// A plain-text rendition of an HTML body for the text/plain part, so a message sent
// with `html` only still reads in text-only clients and scores as a proper
// multipart/alternative with spam filters. Readable, not a layout engine.
//
// The HTML is tenant input, so the conversion must stay linear whatever it is given:
// html-to-text parses with htmlparser2 (no regular expressions over the markup), and the
// input is cut before parsing because the parser's open-element stack costs O(depth) per
// tag, so deeply nested markup grows quadratically with its length. Past the cut the text
// part says so; the HTML part itself is sent whole.
import { convert, type HtmlToTextOptions } from 'html-to-text';

/** Characters of HTML converted to text. Mail clients clip HTML past ~100 KB anyway. */
export const HTML_TEXT_INPUT_LIMIT = 128 * 1024;
/**
 * Tags converted to text. The parser's cost grows with tags × open depth: 40,000 unclosed
 * inline tags (120 KB of `<b><i>`) took ~180 ms of CPU, 10,000 take ~20 ms. A long
 * table-layout newsletter has 2,000–5,000.
 */
export const HTML_TEXT_TAG_LIMIT = 10_000;
export const HTML_TEXT_TRUNCATED = '[…]';

const HEADING = { uppercase: false, leadingLineBreaks: 2, trailingLineBreaks: 2 };

const OPTIONS: HtmlToTextOptions = {
  wordwrap: false,
  decodeEntities: true,
  limits: { maxDepth: 64, maxChildNodes: 20_000, ellipsis: HTML_TEXT_TRUNCATED, maxInputLength: HTML_TEXT_INPUT_LIMIT + 1 },
  selectors: [
    // A link keeps its target: in plain text the URL is the only way to follow it.
    { selector: 'a', options: { linkBrackets: ['(', ')'], hideLinkHrefIfSameAsText: true } },
    { selector: 'img', format: 'skip' },
    ...(['h1', 'h2', 'h3', 'h4', 'h5', 'h6'] as const).map((selector) => ({ selector, options: HEADING })),
    { selector: 'table', format: 'dataTable' },
  ],
};

export function htmlToText(html: string): string {
  const end = Math.min(html.length, HTML_TEXT_INPUT_LIMIT, tagLimitEnd(html));
  const cut = end < html.length;
  const text = convert(cut ? html.slice(0, end) : html, OPTIONS)
    .replace(/\u00a0/g, ' ')
    .trim();
  return cut ? `${text}\n${HTML_TEXT_TRUNCATED}` : text;
}

/** Where the tag past HTML_TEXT_TAG_LIMIT begins (one indexOf pass), or the input's length. */
function tagLimitEnd(html: string): number {
  let at = -1;
  for (let tags = 0; tags <= HTML_TEXT_TAG_LIMIT; tags++) {
    at = html.indexOf('<', at + 1);
    if (at === -1 || at >= HTML_TEXT_INPUT_LIMIT) return html.length;
  }
  return at;
}
