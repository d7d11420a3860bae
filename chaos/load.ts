// The load: N messages posted at a steady rate. A refused or failed POST is tried
// again (a 5xx during a Postgres restart inserted nothing); a POST whose answer was
// lost is counted as ambiguous, since its row may exist without our knowing its id.

export interface LoadResult {
  accepted: Map<string, number>;
  /** Answers other than 202, by status (0 = no answer), before the retry that succeeded. */
  refusals: Map<number, number>;
  ambiguous: number;
  elapsedMs: number;
  acceptMs: number[];
}

export interface LoadOptions {
  apiUrl: string;
  apiKey: string;
  channelId: string;
  total: number;
  perSecond: number;
  concurrency: number;
  onProgress?: (done: number) => void;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { accepted: new Map(), refusals: new Map(), ambiguous: 0, elapsedMs: 0, acceptMs: [] };
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= o.total) return;
      // Paced by schedule, not by answers: a slow API does not lower the offered load.
      const due = started + (i * 1000) / o.perSecond;
      if (due > Date.now()) await sleep(due - Date.now());
      await submit(o, i, result);
      if ((i + 1) % 500 === 0) o.onProgress?.(i + 1);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  result.elapsedMs = Date.now() - started;
  return result;
}

async function submit(o: LoadOptions, i: number, result: LoadResult): Promise<void> {
  // Distinct numbers, none of the simulator's scripted ones (+1500555xxxx).
  const to = `+1555${String(2_000_000 + i).padStart(7, '0')}`;
  for (let attempt = 1; ; attempt++) {
    const t0 = Date.now();
    let status = 0;
    try {
      const res = await fetch(`${o.apiUrl}/v1/messages`, {
        method: 'POST',
        // Safe to repeat once the API honours Idempotency-Key; until then a retried lost answer may add a row.
        headers: { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/json', 'idempotency-key': `chaos-${i}` },
        body: JSON.stringify({ channel_id: o.channelId, to, body: `chaos ${i}` }),
        signal: AbortSignal.timeout(15_000),
      });
      status = res.status;
      const body = (await res.json()) as { id?: string };
      if (status === 202 && body.id) {
        result.accepted.set(body.id, t0);
        result.acceptMs.push(Date.now() - t0);
        return;
      }
    } catch {
      // No answer: the row may or may not exist.
      if (status === 0) result.ambiguous++;
    }
    result.refusals.set(status, (result.refusals.get(status) ?? 0) + 1);
    if (status >= 400 && status < 500 && status !== 429) throw new Error(`message ${i} refused with ${status}`);
    await sleep(Math.min(5_000, 250 * attempt));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
