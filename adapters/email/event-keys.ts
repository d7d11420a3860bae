import type { KeyObject, X509Certificate } from 'node:crypto';
import type { Credentials } from '../types';
import { sendgridPublicKey } from './sendgrid-events';
import { parseCertificates, topicArnProblem } from './ses-events';

/**
 * What verifies this channel's event webhooks. The route hands an adapter one
 * string (`webhookSigningSecret`), so the email adapter packs the provider, its
 * public key or certificates and the expected topic into it as JSON. All of it
 * is public material (a verification key, AWS's signing certificate).
 */
export interface EventKeys {
  provider: 'ses' | 'sendgrid' | 'none';
  sendgridKey?: string;
  snsCertPem?: string;
  snsTopicArn?: string;
}

export function eventKeysOf(c: Credentials): EventKeys {
  if (c.events_provider === 'sendgrid') return { provider: 'sendgrid', sendgridKey: c.sendgrid_verification_key ?? '' };
  if (c.events_provider === 'ses') {
    return { provider: 'ses', snsCertPem: c.sns_signing_cert_pem ?? '', snsTopicArn: c.sns_topic_arn || undefined };
  }
  return { provider: 'none' };
}

export type Verifier = { provider: 'sendgrid'; key: KeyObject } | { provider: 'ses'; certs: X509Certificate[]; topicArn?: string };

// Parsing a key or a certificate bundle costs more than verifying with it; channels are few.
const cache = new Map<string, Verifier>();
const MAX_CACHED = 256;

/** The verifier for a packed EventKeys string. Throws when the string or its key material is unusable. */
export function verifierFor(packed: string): Verifier {
  const hit = cache.get(packed);
  if (hit) return hit;
  const keys = JSON.parse(packed) as EventKeys;
  let verifier: Verifier;
  if (keys.provider === 'sendgrid') verifier = { provider: 'sendgrid', key: sendgridPublicKey(keys.sendgridKey ?? '') };
  else if (keys.provider === 'ses') verifier = { provider: 'ses', certs: parseCertificates(keys.snsCertPem ?? ''), topicArn: keys.snsTopicArn };
  else throw new Error('this channel has no events_provider');
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(packed, verifier);
  return verifier;
}

/** Why the events configuration cannot verify anything, or undefined when it can (or there is none). */
export function eventKeysProblem(c: Credentials): string | undefined {
  const keys = eventKeysOf(c);
  if (keys.provider === 'none') return undefined;
  const topic = keys.provider === 'ses' ? topicArnProblem(keys.snsTopicArn) : undefined;
  if (topic) return `sns_topic_arn ${topic}`;
  try {
    verifierFor(JSON.stringify(keys));
    return undefined;
  } catch (err) {
    const what = keys.provider === 'sendgrid' ? 'sendgrid_verification_key' : 'sns_signing_cert_pem';
    return `${what} is unusable: ${(err as Error).message}`;
  }
}
