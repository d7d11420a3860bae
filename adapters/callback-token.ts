import { createHmac, timingSafeEqual } from 'node:crypto';

// Providers that do not sign their callbacks (Jasmin's DLRs) are verified by a
// token in the per-message callback URL: HMAC-SHA256(channel webhook_secret, message id).

export function callbackToken(secret: string, messageId: string): string {
  return createHmac('sha256', secret).update(messageId).digest('base64url');
}

export function verifyCallbackToken(secret: string, messageId: string | undefined, token: string | undefined): boolean {
  if (!messageId || !token) return false;
  const expected = Buffer.from(callbackToken(secret, messageId));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The per-message status callback: our own id and its token ride back in the query string. */
export function statusCallbackUrl(publicBaseUrl: string, channelType: string, channelId: string, messageId: string, webhookSecret: string): string {
  const q = new URLSearchParams({ message_id: messageId, token: callbackToken(webhookSecret, messageId) });
  return `${publicBaseUrl}/webhooks/${channelType}/${channelId}?${q.toString()}`;
}
