import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeErrorCode } from './error-codes';

const ROOT = join(__dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [join(ROOT, path)] : [];
  });
}

// Where a literal error code is written: a send error's second argument, a failure's detail,
// a batch recipient's or a group's failure, a status update, a table of codes.
const WRITES = [
  /(?:PermanentSendError|TransientSendError|RateLimitedError|super)\(\s*(?:'[^']*'|`[^`]*`|[\w.]+)\s*,\s*'([A-Za-z]\w*)'\s*[,)]/g,
  /SendError\([^\n]*, '([a-z]\w*)'(?:, \{ cause: err \})?\);?$/gm,
  /type TransportFailure = '(\w+)' \| '(\w+)' \| '(\w+)';/g,
  /detail\('([a-z][\w]*)'/g,
  /fail\(r, '([a-z][\w]*)'/g,
  /failUnsent\(db, group, '([a-z][\w]*)'/g,
  /\[code, message\] = [^;]*?\['([a-z]\w*)', '[^']*'\] : \['([a-z]\w*)'/g,
  /errorCode(?::| =) '([a-z][\w]*)'/g,
  /error_code = '([a-z][\w]*)'/g,
  /\bcode: '([a-z][\w]*)'/g,
  /^\s+E[A-Z]+: '(smtp_[a-z]+)'/gm,
];

function writtenCodes(): Map<string, string> {
  const files = [...['adapters', 'activities', 'workflows', 'dispatch'].flatMap(sources), join(ROOT, 'db', 'group-batches.ts')];
  const codes = new Map<string, string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const re of WRITES) for (const m of text.matchAll(re)) for (const code of m.slice(1)) if (code) codes.set(code, file.slice(ROOT.length + 1));
  }
  return codes;
}

describe('error code catalog', () => {
  it('describes every error code the adapters, activities, workflows and group batches write', () => {
    const codes = writtenCodes();
    // The scan itself must find the codes it is meant to (a regex gone blind passes anything).
    for (const known of [
      'whatsapp_window_closed',
      'missing_body',
      'smtp_auth_failed',
      'timeout',
      'group_cancelled',
      'delivery_timeout',
      'content_too_large',
      'jasmin_no_route',
      'egress_refused',
      'smtp_timeout',
      'unknown',
    ]) {
      expect(codes.has(known), known).toBe(true);
    }
    const missing = [...codes].filter(([code]) => describeErrorCode(code) === undefined).map(([code, file]) => `${code} (${file})`);
    expect(missing).toEqual([]);
  });

  it("reads a provider's number in its channel's table", () => {
    expect(describeErrorCode('21211', 'sms')).toBe("Twilio: invalid 'To' phone number");
    expect(describeErrorCode('30005', 'sms')).toMatch(/unknown destination handset/);
    expect(describeErrorCode('131047', 'whatsapp')).toMatch(/^WhatsApp: more than 24 hours/);
    expect(describeErrorCode('190', 'messenger')).toMatch(/^Messenger: access token/);
    expect(describeErrorCode('21211', 'whatsapp')).toBeUndefined();
    expect(describeErrorCode('UNDELIV', 'smpp')).toMatch(/could not deliver/);
  });

  it('explains codes made of a prefix and the provider’s value, and knows when it does not know', () => {
    expect(describeErrorCode('smtp_550', 'email')).toBe('the SMTP server answered 550: mailbox unavailable (no such user, or refused by policy)');
    expect(describeErrorCode('smtp_421', 'email')).toMatch(/\(retried\)$/);
    expect(describeErrorCode('http_503')).toMatch(/HTTP 503 \(retried/);
    expect(describeErrorCode('http_404')).toMatch(/\(not retried\)$/);
    expect(describeErrorCode('ses_bounce_on_account_suppression_list')).toBe('SES: permanent bounce (on account suppression list)');
    expect(describeErrorCode('no_such_code')).toBeUndefined();
    expect(describeErrorCode('__proto__')).toBeUndefined();
    expect(describeErrorCode('constructor', 'sms')).toBeUndefined();
  });
});
