import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JCli } from './jcli';

// Jasmin's connector state lives behind jCli only. Operators read it over HTTP through
// jookies/jasmin-api, a Django app that drives jCli over telnet; it is not on PyPI, so
// this is a stand-in for its one read the adapter uses, `GET /api/smppsconns/{cid}/`
// (rest_api/views/smppccm.py retrieve(): `smppccm -s` fields plus the `smppccm -l`
// columns, the service column named `status`), answered from the real jCli.

export interface JasminApiStandIn {
  url: string;
  requests: Array<{ path: string; authorized: boolean }>;
  close(): Promise<void>;
}

export async function startJasminApiStandIn(opts: { jcli: () => Promise<JCli>; username: string; password: string }): Promise<JasminApiStandIn> {
  const requests: JasminApiStandIn['requests'] = [];
  const expected = Buffer.from(`Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`);
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    const authorized = given.length === expected.length && timingSafeEqual(given, expected);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ path, authorized });
    if (!authorized) {
      res.setHeader('www-authenticate', 'Basic realm="api"');
      return json(res, 401, { detail: 'Authentication credentials were not provided.' });
    }
    const match = /^\/api\/smppsconns\/([A-Za-z0-9_-]+)\/$/.exec(path);
    if (req.method !== 'GET' || !match?.[1]) return json(res, 404, { detail: 'Not found.' });
    const cid = match[1];
    void retrieve(opts.jcli, cid).then(
      (connector) => (connector ? json(res, 200, { connector }) : json(res, 404, { detail: `Unknown connector: ${cid}` })),
      (err: unknown) => json(res, 500, { detail: `Unexpected response from Jasmin: ${(err as Error).message}` }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function retrieve(jcli: () => Promise<JCli>, cid: string): Promise<Record<string, string> | undefined> {
  const cli = await jcli();
  try {
    const shown = await cli.run(`smppccm -s ${cid}`);
    if (/Unknown connector/.test(shown)) return undefined;
    const connector: Record<string, string> = {};
    for (const line of shown.split('\n')) {
      const cols = line.split(/\s+/).filter(Boolean);
      if (cols.length === 2 && cols[0] && cols[1]) connector[cols[0]] = cols[1];
    }
    const row = (await cli.run('smppccm -l'))
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find((cols) => cols[0] === `#${cid}`);
    if (!row) return undefined;
    return { ...connector, cid, status: row[1] ?? '', session: row[2] ?? '', starts: row[3] ?? '', stops: row[4] ?? '' };
  } finally {
    await cli.close();
  }
}
