import type { TemplateRef } from '../adapters/types';
import type { Db } from '../db/client';
import { groupContent, recipientKey, recipientTexts, recipientVariables, type GroupContent } from '../db/groups';
import type { MessageRow } from '../db/schema';
import { CONTENT_LIMITS } from './content-limits';

// A group's content is stored once and rendered for each recipient when its message is
// sent (or read): `{{name}}` is replaced by the recipient's variable. The rendered size
// is measured before a string is built, so a recipient whose values would blow the
// content past the single-message limits costs nothing but its own failure.

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;

/** The `{{variable}}` names a group's content uses; every recipient must supply them. */
export function placeholdersOf(content: GroupContent): Set<string> {
  const names = new Set<string>();
  const texts = [content.body, content.subject, content.html, ...Object.values(content.template?.variables ?? {})];
  for (const text of texts) for (const m of (text ?? '').matchAll(PLACEHOLDER)) if (m[1]) names.add(m[1]);
  return names;
}

export interface RenderedContent {
  body: string | null;
  subject: string | null;
  html: string | null;
  template: TemplateRef | null;
}

export interface RenderTooLarge {
  /** `body`, `subject`, `html` or `template.variables.<name>`. */
  field: string;
  length: number;
  limit: number;
}

export type RenderResult = { ok: true; content: RenderedContent } | ({ ok: false } & RenderTooLarge);

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);

type Values = Readonly<Record<string, string>>;

function renderedLength(text: string, values: Values): number {
  let length = text.length;
  for (const m of text.matchAll(PLACEHOLDER)) length += (values[m[1] ?? '']?.length ?? 0) - m[0].length;
  return length;
}

/** The text with its placeholders filled, or its length when that is over `limit` (the string is never built). */
function fill(text: string, values: Values, limit: number): string | number {
  const length = renderedLength(text, values);
  if (length > limit) return length;
  // A value is text: placeholders inside it are not expanded again.
  return text.replace(PLACEHOLDER, (_, name: string) => values[name] ?? '');
}

/** One recipient's content. Values put into HTML are escaped: a recipient's name is text, not markup. */
export function renderContent(content: GroupContent, variables: Record<string, string> | null): RenderResult {
  const plain: Values = variables ?? {};
  const escaped: Values = Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, escapeHtml(v)]));
  let tooLarge: RenderTooLarge | undefined;
  const field = (name: string, text: string | null | undefined, values: Values, limit: number): string | null => {
    if (text == null || tooLarge) return null;
    const out = fill(text, values, limit);
    if (typeof out === 'number') {
      tooLarge = { field: name, length: out, limit };
      return null;
    }
    return out;
  };
  const subject = field('subject', content.subject, plain, CONTENT_LIMITS.subject);
  const body = field('body', content.body, plain, CONTENT_LIMITS.body);
  const html = field('html', content.html, escaped, CONTENT_LIMITS.html);
  let template: TemplateRef | null = null;
  if (content.template) {
    const vars = content.template.variables;
    template = vars
      ? {
          ...content.template,
          variables: Object.fromEntries(
            Object.entries(vars).map(([k, v]) => [k, field(`template.variables.${k}`, v, plain, CONTENT_LIMITS.templateVariable) ?? '']),
          ),
        }
      : { ...content.template };
  }
  if (tooLarge) return { ok: false, ...tooLarge };
  return { ok: true, content: { body, subject, html, template } };
}

export class GroupContentMissingError extends Error {}

/**
 * Renders a group message's content for its recipient. A group's content never changes once
 * stored, so the last few groups' content is kept in memory: a group's sends read it from
 * the database once per process, not once per recipient.
 */
export function groupContentRenderer(db: Db, opts: { maxGroups?: number } = {}) {
  const maxGroups = opts.maxGroups ?? 16;
  const cache = new Map<string, Promise<GroupContent | undefined>>();
  const contentOf = (groupId: string): Promise<GroupContent | undefined> => {
    let entry = cache.get(groupId);
    if (entry) {
      cache.delete(groupId);
    } else {
      entry = groupContent(db, groupId);
      // A failed or empty read is not remembered.
      void entry.then(
        (c) => c ?? cache.delete(groupId),
        () => cache.delete(groupId),
      );
    }
    cache.set(groupId, entry);
    while (cache.size > maxGroups) cache.delete(cache.keys().next().value ?? '');
    return entry;
  };
  return async (groupId: string, seq: number): Promise<RenderResult> => {
    const [content, variables] = await Promise.all([contentOf(groupId), recipientVariables(db, groupId, seq)]);
    if (!content || variables === undefined) throw new GroupContentMissingError(`group ${groupId} or its recipient ${seq} is gone`);
    return renderContent(content, variables);
  };
}

const isGroupMessage = (m: MessageRow): m is MessageRow & { groupMessageId: string; groupSeq: number } => m.groupMessageId !== null && m.groupSeq !== null;

/**
 * The rows as a view shows them: a group message's body and subject rendered for its
 * recipient (null where the rendering is over the limit, as its send failed).
 */
export async function withGroupTexts(db: Db, rows: MessageRow[]): Promise<MessageRow[]> {
  const refs = rows.filter(isGroupMessage).map((m) => ({ groupId: m.groupMessageId, seq: m.groupSeq }));
  if (refs.length === 0) return rows;
  const texts = await recipientTexts(db, refs);
  return rows.map((m) => {
    if (!isGroupMessage(m)) return m;
    const t = texts.get(recipientKey({ groupId: m.groupMessageId, seq: m.groupSeq }));
    if (!t) return m;
    const vars: Values = t.variables ?? {};
    const text = (v: string | null, limit: number) => {
      const out = v == null ? null : fill(v, vars, limit);
      return typeof out === 'number' ? null : out;
    };
    return { ...m, body: text(t.body, CONTENT_LIMITS.body), subject: text(t.subject, CONTENT_LIMITS.subject) };
  });
}
