import { GRAPH_ERRORS, type GraphErrorTable } from '../meta/graph-errors';

/**
 * WhatsApp Cloud API error codes and their retry class, over the codes all of Graph shares.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
 */
export const WHATSAPP_ERRORS: GraphErrorTable = {
  ...GRAPH_ERRORS,
  '0': { retry: 'permanent', reason: 'authentication failed' },
  '3': { retry: 'permanent', reason: 'API method not available to this app' },
  '190': { retry: 'permanent', reason: 'access token expired or invalid' },
  // Throughput: the phone number's messages-per-second ceiling; the next second is fine.
  '130429': { retry: 'rate_limited', reason: 'throughput rate limit hit', retryAfterMs: 1_000 },
  '130472': { retry: 'permanent', reason: "user's number is part of an experiment" },
  '80007': { retry: 'rate_limited', reason: 'WhatsApp Business Account rate limit hit', retryAfterMs: 60_000 },
  '131000': { retry: 'transient', reason: 'something went wrong' },
  '131005': { retry: 'permanent', reason: 'access denied' },
  '131008': { retry: 'permanent', reason: 'required parameter missing' },
  '131009': { retry: 'permanent', reason: 'parameter value not valid' },
  '131016': { retry: 'transient', reason: 'service overloaded' },
  '131021': { retry: 'permanent', reason: 'recipient cannot be the sender' },
  '131026': { retry: 'permanent', reason: 'message undeliverable' },
  '131030': { retry: 'permanent', reason: 'recipient not in the allowed list' },
  '131031': { retry: 'permanent', reason: 'business account locked' },
  '131042': { retry: 'permanent', reason: 'business eligibility payment issue' },
  '131045': { retry: 'permanent', reason: 'phone number not registered' },
  '131047': { retry: 'permanent', reason: 'more than 24 hours since the customer last replied (re-engagement)' },
  '131048': { retry: 'rate_limited', reason: 'spam rate limit hit', retryAfterMs: 60_000 },
  '131049': { retry: 'permanent', reason: 'not delivered to maintain healthy ecosystem engagement' },
  '131051': { retry: 'permanent', reason: 'unsupported message type' },
  '131052': { retry: 'permanent', reason: 'media download error' },
  '131053': { retry: 'permanent', reason: 'media upload error' },
  // Pair rate limit: Meta allows about one message every 6 s to the same user.
  '131056': { retry: 'rate_limited', reason: 'business/consumer pair rate limit hit', retryAfterMs: 6_000 },
  '131057': { retry: 'transient', reason: 'business account in maintenance mode' },
  '132000': { retry: 'permanent', reason: 'template parameter count mismatch' },
  '132001': { retry: 'permanent', reason: 'template does not exist in this language' },
  '132005': { retry: 'permanent', reason: 'translated template text too long' },
  '132007': { retry: 'permanent', reason: 'template format character policy violated' },
  '132012': { retry: 'permanent', reason: 'template parameter format mismatch' },
  '132015': { retry: 'permanent', reason: 'template paused for low quality' },
  '132016': { retry: 'permanent', reason: 'template disabled for low quality' },
  '133010': { retry: 'permanent', reason: 'phone number not registered with the Cloud API' },
};
