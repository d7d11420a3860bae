import type { WebhookDispatcher, WebhookKind } from './webhooks';
import { errorBody, type GraphErrorSpec } from './wire';

export interface GraphSimApp {
  /** The token the simulator accepts (Bearer header or access_token parameter). */
  accessToken: string;
  /** Signs this app's webhooks and checks appsecret_proof when a caller sends one. */
  appSecret: string;
  /** WhatsApp: the business phone number id this token may send from. */
  phoneNumberId?: string;
  /** WhatsApp: its display number, digits (default 1555 + the id's last 7 digits). */
  displayPhoneNumber?: string;
  verifiedName?: string;
  /** WhatsApp Business Account id in webhook envelopes (default "1029384756"). */
  wabaId?: string;
  /** Messenger: the Page this token belongs to. */
  pageId?: string;
  pageName?: string;
}

/** Random faults for chaos tests and benchmarks; they apply to recipients without a scripted behaviour. */
export interface GlobalFaults {
  /** Share of sends answered 500 (WhatsApp code 131000, Messenger code 2). */
  error5xxRate: number;
  /** Share of sends answered with a rate-limit error (130429 / 613) and Retry-After. */
  rateLimitRate: number;
  retryAfterSec: number;
  /** Share of sends that hang until the client gives up. */
  timeoutRate: number;
  /** Every send is refused permanently (131026 / 551). */
  permanentAll: boolean;
}

export const NO_FAULTS: GlobalFaults = { error5xxRate: 0, rateLimitRate: 0, retryAfterSec: 1, timeoutRate: 0, permanentAll: false };

/** A scripted answer to a send, chosen by the recipient. */
export type SendScript =
  { kind: 'reject'; error: GraphErrorSpec } | { kind: 'fail-first'; attempts: number; error?: GraphErrorSpec; retryAfterSec?: number; hang?: boolean };

/** What the simulator answers; `after` runs once the answer is on the wire (webhooks). */
export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Accept the connection and never answer (the socket is dropped after 30 s or on close). */
  hang?: boolean;
  after?: () => Promise<void>;
}

/** State both products share; one per simulator. */
export interface SimCore {
  apps: readonly GraphSimApp[];
  faults: GlobalFaults;
  callbackDelayMs: number;
  enforceWindow: boolean;
  webhooks: WebhookDispatcher;
  webhookUrl(kind: WebhookKind, id: string): string | undefined;
  /** Last inbound message per `${kind}:${businessId}:${user}`, epoch ms. */
  lastInbound: Map<string, number>;
  /** Send attempts per correlation key (our message id where the request carries it). */
  attempts: Map<string, number>;
  /** Accepted sends per correlation key. */
  accepted: Map<string, number>;
  log(line: string): void;
}

export const WINDOW_MS = 24 * 60 * 60 * 1000;

export function windowOpen(core: SimCore, key: string): boolean {
  const at = core.lastInbound.get(key);
  return at !== undefined && Date.now() - at < WINDOW_MS;
}

/**
 * The error to answer this attempt with, if any: a scripted one first, then the
 * global faults for unscripted recipients. Attempts are counted per key so each
 * of our messages sees its own first attempts.
 */
export function faultFor(
  core: SimCore,
  script: SendScript | undefined,
  key: string,
  globals: { permanent: GraphErrorSpec; unavailable: GraphErrorSpec; rateLimited: GraphErrorSpec },
): Answer | undefined {
  if (script?.kind === 'reject') return errorAnswer(script.error);
  if (script?.kind === 'fail-first') {
    const attempt = (core.attempts.get(key) ?? 0) + 1;
    core.attempts.set(key, attempt);
    if (attempt > script.attempts) return undefined;
    if (script.hang || !script.error) return { status: 0, hang: true };
    return errorAnswer(script.error, script.retryAfterSec);
  }
  const f = core.faults;
  if (f.permanentAll) return errorAnswer(globals.permanent);
  if (Math.random() < f.rateLimitRate) return errorAnswer(globals.rateLimited, f.retryAfterSec);
  if (Math.random() < f.error5xxRate) return errorAnswer(globals.unavailable);
  if (Math.random() < f.timeoutRate) return { status: 0, hang: true };
  return undefined;
}

export function errorAnswer(error: GraphErrorSpec, retryAfterSec?: number): Answer {
  return {
    status: error.status,
    body: errorBody(error),
    headers: retryAfterSec !== undefined ? { 'Retry-After': String(retryAfterSec) } : {},
  };
}

export function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
