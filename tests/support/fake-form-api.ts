// A stand-in for a provider's form-encoded HTTP API (Twilio, Jasmin) that records
// exactly what arrived and answers what the test says.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { startLocalServer, type LocalServer } from './local-server';

export interface RecordedRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
  form: Record<string, string>;
}

export type Responder = (req: RecordedRequest, res: ServerResponse) => void;

export interface FakeFormApi extends LocalServer {
  requests: RecordedRequest[];
}

export async function fakeFormApi(respond: Responder): Promise<FakeFormApi> {
  const requests: RecordedRequest[] = [];
  const server = await startLocalServer((req, body, res) => {
    const recorded = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      form: Object.fromEntries(new URLSearchParams(body.toString('utf8'))),
    };
    requests.push(recorded);
    respond(recorded, res);
  });
  return { ...server, requests };
}
