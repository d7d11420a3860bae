// What a message says, the same for one message and for a group: JSON schema for the
// route bodies (also what /docs shows).

export const TEMPLATE_SCHEMA = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 512 },
    language: { type: 'string', minLength: 2, maxLength: 16 },
    variables: { type: 'object', maxProperties: 100, additionalProperties: { type: 'string', maxLength: 4096 } },
  },
} as const;

/** channel_id, body / subject / html, template, metadata. */
export const CONTENT_PROPERTIES = {
  channel_id: { type: 'string', minLength: 1, maxLength: 64 },
  body: { type: 'string', minLength: 1, maxLength: 65536 },
  subject: { type: 'string', maxLength: 998 },
  html: { type: 'string', maxLength: 1048576 },
  template: TEMPLATE_SCHEMA,
  metadata: { type: 'object', maxProperties: 50 },
} as const;
