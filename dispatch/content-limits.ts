// The most one message may say, in characters: what POST /v1/messages accepts
// (api/content-schema.ts), and what a group's message may render to.

export const CONTENT_LIMITS = {
  body: 65_536,
  subject: 998,
  html: 1_048_576,
  /** One template variable's value. */
  templateVariable: 4_096,
} as const;
