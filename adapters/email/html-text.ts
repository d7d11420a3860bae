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
  const cut = html.length > HTML_TEXT_INPUT_LIMIT;
  const text = convert(cut ? html.slice(0, HTML_TEXT_INPUT_LIMIT) : html, OPTIONS)
    .replace(/\u00a0/g, ' ')
    .trim();
  return cut ? `${text}\n${HTML_TEXT_TRUNCATED}` : text;
}
