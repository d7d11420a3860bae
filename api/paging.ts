import { badRequest } from './errors';

/** Keyset paging in a query string: `limit` (default 50) and the previous page's `next_cursor`. */
export interface PageQuery {
  limit?: string;
  cursor?: string;
}

/**
 * The query schema of a paged list: the route's own filters, then PageQuery's. Query strings are
 * not coerced (bodies must not be), so the limit is checked by pageLimit.
 */
export function pagedListSchema<F extends Record<string, object>>(maxLimit: number, filters: F) {
  return {
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...filters,
        limit: { type: 'string', pattern: `^[0-9]{1,${String(maxLimit).length}}$`, description: `1 to ${maxLimit}, default 50` },
        cursor: { type: 'string', maxLength: 256, description: 'next_cursor of the previous page' },
      },
    },
  } as const;
}

export function pageLimit(q: PageQuery, maxLimit: number): number {
  const limit = q.limit === undefined ? 50 : Number(q.limit);
  if (limit < 1 || limit > maxLimit) throw badRequest('limit', `must be from 1 to ${maxLimit}`);
  return limit;
}
