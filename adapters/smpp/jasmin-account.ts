// A Jasmin channel's credentials, read and checked once per call so a bad
// setting fails with a message naming the key (never its value).
import { boundedTimeout } from '../egress';
import type { Credentials } from '../types';
import type { SmsCoding } from './sms-encoding';

export interface JasminAccount {
  baseUrl: string;
  username: string;
  password: string;
  from?: string;
  /** 8 sends every message as UCS-2; 0 picks GSM-7 when the text allows it. */
  coding: SmsCoding;
  dlrLevel: 1 | 2 | 3;
  dlrMethod: 'GET' | 'POST';
  priority?: string;
  validityPeriod?: string;
  /** Jasmin's http-api long_content_max_parts: it silently truncates longer messages. */
  maxParts: number;
  timeoutMs: number;
  /** Reported by verify: through the management REST API when restApiUrl is set, else from Jasmin's /metrics. */
  connector?: { connectorId: string; restApiUrl?: string; username?: string; password?: string };
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_PARTS = 5;

/** The account, or a message naming what is missing or malformed. */
export function readAccount(c: Credentials): JasminAccount | string {
  const missing = ['base_url', 'username', 'password'].filter((k) => !c[k]);
  if (missing.length > 0) return `missing jasmin credentials: ${missing.join(', ')}`;
  const { base_url: baseUrl = '', username = '', password = '' } = c;

  const problems: string[] = [];
  const check = (ok: boolean, problem: string): void => void (ok || problems.push(problem));
  // The HTTP API refuses longer values (^.{1,16}$) and echoes the refused value in its answer.
  check(username.length <= 16, 'username must be at most 16 characters');
  check(password.length <= 16, 'password must be at most 16 characters');
  check(/^https?:\/\//.test(baseUrl), 'base_url must be an http(s) URL');
  check(!c.coding || c.coding === '0' || c.coding === '8', 'coding must be 0 (GSM-7, UCS-2 when needed) or 8 (always UCS-2)');
  check(!c.dlr_level || /^[123]$/.test(c.dlr_level), 'dlr_level must be 1, 2 or 3');
  check(!c.dlr_method || /^(get|post)$/i.test(c.dlr_method), 'dlr_method must be GET or POST');
  check(!c.priority || /^[0-3]$/.test(c.priority), 'priority must be 0, 1, 2 or 3');
  check(!c.validity_period || /^\d+$/.test(c.validity_period), 'validity_period must be whole minutes');
  check(!c.max_parts || /^[1-9]\d*$/.test(c.max_parts), 'max_parts must be a positive integer');
  check(!c.rest_api_url || /^https?:\/\//.test(c.rest_api_url), 'rest_api_url must be an http(s) URL');
  if (problems.length > 0) return `invalid jasmin credentials: ${problems.join('; ')}`;

  return {
    baseUrl,
    username,
    password,
    from: c.from || undefined,
    coding: c.coding === '8' ? 8 : 0,
    dlrLevel: Number(c.dlr_level || 2) as 1 | 2 | 3,
    dlrMethod: (c.dlr_method || 'POST').toUpperCase() as 'GET' | 'POST',
    priority: c.priority || undefined,
    validityPeriod: c.validity_period || undefined,
    maxParts: c.max_parts ? Number(c.max_parts) : DEFAULT_MAX_PARTS,
    timeoutMs: boundedTimeout(c.timeout_ms, DEFAULT_TIMEOUT_MS),
    connector: c.connector_id
      ? { connectorId: c.connector_id, restApiUrl: c.rest_api_url || undefined, username: c.rest_api_username, password: c.rest_api_password }
      : undefined,
  };
}
