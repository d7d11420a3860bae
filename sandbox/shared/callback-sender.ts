// The part every simulator's callbacks share: Twilio's status callbacks, Meta's
// webhooks and Jasmin's DLRs are all a request repeated until the receiver takes it.

export interface CallbackAnswer {
  /** 0 when the receiver could not be reached (refused, reset, timed out). */
  httpStatus: number;
  body: string;
}

export interface RetryPolicy {
  /** Calls in all, the first one included. */
  attempts: number;
  /** How long the receiver may take before the call counts as unreachable. */
  timeoutMs: number;
  /** The pause after failed attempt n (from 1) before the next. */
  delayMs(attempt: number): number;
}

/**
 * Calls a receiver until it takes the callback. Owns every timer and request it
 * starts, so close() leaves nothing behind.
 */
export class CallbackSender {
  /** Pending sleeps and how to wake them, so close() ends every chain at once. */
  private readonly sleepers = new Map<NodeJS.Timeout, () => void>();
  private readonly inflight = new Set<AbortController>();
  private stopped = false;

  get closed(): boolean {
    return this.stopped;
  }

  /** Resolves after ms, or at once when closed (callers check `closed`). */
  sleep(ms: number): Promise<void> {
    if (this.closed || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleepers.delete(timer);
        resolve();
      }, ms);
      this.sleepers.set(timer, resolve);
    });
  }

  /**
   * Calls until `taken` says the receiver took an answer or the attempts are spent,
   * and resolves with the last answer. A call cut off by close() ends the chain
   * without reaching `taken`.
   */
  protected async callWithRetries(
    policy: RetryPolicy,
    request: (signal: AbortSignal) => Promise<Response>,
    taken: (answer: CallbackAnswer, attempt: number) => boolean,
  ): Promise<CallbackAnswer> {
    let answer: CallbackAnswer = { httpStatus: 0, body: '' };
    for (let attempt = 1; attempt <= policy.attempts && !this.closed; attempt++) {
      answer = await this.call(request, policy.timeoutMs);
      if (this.closed && answer.httpStatus === 0) return answer;
      if (taken(answer, attempt)) return answer;
      if (attempt < policy.attempts) await this.sleep(policy.delayMs(attempt));
    }
    return answer;
  }

  close(): void {
    this.stopped = true;
    for (const request of this.inflight) request.abort();
    for (const [timer, wake] of this.sleepers) {
      clearTimeout(timer);
      wake();
    }
    this.sleepers.clear();
  }

  private async call(request: (signal: AbortSignal) => Promise<Response>, timeoutMs: number): Promise<CallbackAnswer> {
    const controller = new AbortController();
    const timeout = setTimeout(() => controller.abort(), timeoutMs);
    this.inflight.add(controller);
    try {
      const res = await request(controller.signal);
      return { httpStatus: res.status, body: await res.text() };
    } catch {
      return { httpStatus: 0, body: '' };
    } finally {
      clearTimeout(timeout);
      this.inflight.delete(controller);
    }
  }
}
