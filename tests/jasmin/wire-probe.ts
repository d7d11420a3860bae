import http from 'node:http';
import type { AddressInfo } from 'node:net';

// The same requests against Jasmin's HTTP API (real or simulated) and what came back,
// normalized so two gateways can be compared: ids, dates and hosts become placeholders.

export interface Answer {
  status: number;
  contentType: string;
  body: string;
}

export interface DlrSeen {
  method: string;
  path: string;
  contentType: string;
  userAgent: string;
  fields: Record<string, string>;
}

export interface DlrSink {
  url: string;
  calls: Array<DlrSeen & { at: number }>;
  close(): Promise<void>;
}

/** Receives DLR throws and answers them as Jasmin wants (ACK/Jasmin). */
export async function startDlrSink(): Promise<DlrSink> {
  const calls: DlrSink['calls'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://sink');
      const body = Buffer.concat(chunks).toString('utf8');
      const fields = Object.fromEntries([...url.searchParams, ...new URLSearchParams(body)]);
      calls.push({
        method: req.method ?? '',
        path: url.pathname,
        contentType: req.headers['content-type'] ?? '',
        userAgent: req.headers['user-agent'] ?? '',
        fields,
        at: Date.now(),
      });
      res.end('ACK/Jasmin');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export async function call(baseUrl: string, method: 'GET' | 'POST', path: string, args: Record<string, string>): Promise<Answer> {
  const qs = new URLSearchParams(args).toString();
  const res =
    method === 'GET'
      ? await fetch(`${baseUrl}${path}?${qs}`)
      : await fetch(`${baseUrl}${path}`, { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: qs });
  return normalizeAnswer({ status: res.status, contentType: res.headers.get('content-type') ?? '', body: await res.text() });
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

export function normalizeAnswer(a: Answer): Answer {
  return { ...a, body: a.body.replace(UUID, '<uuid>') };
}

/** Placeholders for what differs by run (ids, dates) and by gateway set-up (connector name, SMSC ids). */
export function normalizeDlr(d: DlrSeen, cid: string): DlrSeen {
  const f = { ...d.fields };
  const smscId = f.id_smsc;
  for (const [k, v] of Object.entries(f)) {
    if (k === 'id' && UUID.test(v)) f[k] = '<uuid>';
    else if ((k === 'subdate' || k === 'donedate') && /^\d{10}$/.test(v)) f[k] = '<YYMMDDhhmm>';
    else if (k === 'id_smsc') f[k] = '<smsc-id>';
    else if (k === 'connector' && v === cid) f[k] = '<cid>';
    else if (k === 'connector' && smscId && smscCode(v) === smscCode(smscId)) f[k] = '<smsc-id>';
    UUID.lastIndex = 0;
  }
  return { ...d, fields: f };
}

/** Jasmin keys receipts by the SMSC's id upper-cased without leading zeros (listeners.py code_dlr_msgid), and so reports id_smsc. */
function smscCode(id: string): string {
  return id.toUpperCase().replace(/^0+/, '');
}
