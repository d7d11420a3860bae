// What a message says, the same for one message and for a group: JSON schema for the
// route bodies (also what /docs shows).

import { CONTENT_LIMITS } from '../dispatch/content-limits';

export const TEMPLATE_SCHEMA = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 512 },
    language: { type: 'string', minLength: 2, maxLength: 16 },
    variables: { type: 'object', maxProperties: 100, additionalProperties: { type: 'string', maxLength: CONTENT_LIMITS.templateVariable } },
  },
} as const;

/** channel_id, body / subject / html, template, metadata. */
export const CONTENT_PROPERTIES = {
  channel_id: { type: 'string', minLength: 1, maxLength: 64 },
  body: { type: 'string', minLength: 1, maxLength: CONTENT_LIMITS.body },
  subject: { type: 'string', maxLength: CONTENT_LIMITS.subject },
  html: { type: 'string', maxLength: CONTENT_LIMITS.html },
  template: TEMPLATE_SCHEMA,
  metadata: { type: 'object', maxProperties: 50 },
} as const;
