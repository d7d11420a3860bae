import { GRAPH_ERRORS, type GraphErrorTable } from '../meta/graph-errors';

/**
 * Send API error codes and their retry class, over the codes all of Graph shares.
 * https://developers.facebook.com/docs/messenger-platform/error-codes
 */
export const MESSENGER_ERRORS: GraphErrorTable = {
  ...GRAPH_ERRORS,
  '10/2018065': { retry: 'permanent', reason: 'outside the allowed window; needs the news messaging permission' },
  '10/2018108': { retry: 'permanent', reason: 'this person cannot receive messages right now' },
  '10/2018278': { retry: 'permanent', reason: 'sent outside the allowed window' },
  '100/2018001': { retry: 'permanent', reason: 'no matching user found' },
  '100/2018109': { retry: 'permanent', reason: 'attachment size exceeds the limit' },
  '230': { retry: 'permanent', reason: 'pages_messaging permission missing' },
  '551': { retry: 'permanent', reason: "this person isn't available right now" },
  '1200': { retry: 'transient', reason: 'temporary send message failure' },
  '613/1893016': { retry: 'rate_limited', reason: 'message tags sent too often to this person', retryAfterMs: 60 * 60_000 },
};
