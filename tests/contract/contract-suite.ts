// One contract, run over every adapter against its own simulator (or real SMTP
// server): each tests/contract/<adapter>.test.ts builds a harness and calls runAdapterContract.
// The pattern is drizzle-orm's integration-tests (pg-common.ts, called by each driver).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PermanentSendError,
  RateLimitedError,
  TransientSendError,
  WebhookPayloadError,
  type ChannelAdapter,
  type DispatchPayload,
  type DispatchResult,
  type SendError,
  type WebhookRequest,
} from '../../adapters/types';
import type { ContractHarness, WebhookSecrets } from './contract-harness';
import { closedPort } from './webhook-receiver';

type SendErrorClass = typeof PermanentSendError | typeof TransientSendError | typeof RateLimitedError;

/** Contract cases an adapter is known to break today. */
export type ContractCase = 'send-ok' | 'permanent' | 'transient' | 'unreachable' | 'rate-limited';

export interface ContractOptions {
  /**
   * Each listed case runs as `it.fails` with the reason in its name: the suite stays green while
   * the deviation stands, and turns red once the adapter is fixed, so the entry gets removed.
   */
  knownDeviations?: Partial<Record<ContractCase, string>>;
}

export function runAdapterContract(name: string, harnessFactory: () => Promise<ContractHarness>, options: ContractOptions = {}): void {
  const test = (c: ContractCase, title: string, fn: () => Promise<void>): void => {
    const deviation = options.knownDeviations?.[c];
    if (deviation) it.fails(`${title} — KNOWN DEVIATION: ${deviation}`, fn);
    else it(title, fn);
  };

  describe(`${name} adapter contract`, () => {
    let h: ContractHarness;
    beforeAll(async () => {
      h = await harnessFactory();
    });
    afterAll(async () => {
      await h?.close();
    });

    const send = (payload: DispatchPayload, credentials = h.channel.credentials): Promise<DispatchResult> =>
      h.adapter.send(payload, credentials, h.context(payload));

    /** The send's error, checked for its class and for secrets; the provider must have been asked exactly once. */
    async function sendFailure(kind: 'permanent' | 'transient' | 'rateLimited', expected: SendErrorClass): Promise<SendError> {
      const payload = h.payload(h.recipients[kind]);
      const before = h.requestsTo(payload.to);
      const err = await send(payload).then(
        () => expect.fail(`a '${kind}' send should have failed`),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(expected);
      expect(h.requestsTo(payload.to) - before).toBe(1);
      expectNoSecrets(h, (err as Error).message);
      return err as SendError;
    }

    // Every webhook case reads the same delivery: the simulator's status webhook for one accepted send.
    let statusDelivery: Promise<{ payload: DispatchPayload; result: DispatchResult; request: WebhookRequest }> | undefined;
    const statusWebhook = () =>
      (statusDelivery ??= (async () => {
        const payload = h.payload(h.recipients.ok);
        const result = await send(payload);
        return { payload, result, request: await h.status.awaitWebhook({ payload, result }) };
      })());

    describe('send', () => {
      test('send-ok', 'sends: returns the provider message id and sent/queued; the provider got exactly one request for the recipient', async () => {
        const payload = h.payload(h.recipients.ok);
        const before = h.requestsTo(payload.to);
        const result = await send(payload);
        expect(result.providerMessageId).toMatch(h.expected.providerMessageId);
        expect(['sent', 'queued']).toContain(result.status);
        expect(result.status).toBe(h.expected.okStatus);
        expect(h.requestsTo(payload.to) - before).toBe(1);
      });

      test('permanent', "a permanent refusal → PermanentSendError with the provider's code", async () => {
        const err = await sendFailure('permanent', PermanentSendError);
        expect(err.code).toBe(h.expected.permanentCode);
        expect(err.retryClass).toBe('permanent');
      });

      test('transient', 'a transient provider failure → TransientSendError', async () => {
        const err = await sendFailure('transient', TransientSendError);
        expect(err.code).toBe(h.expected.transientCode);
        expect(err.retryClass).toBe('transient');
      });

      test('unreachable', 'an unreachable provider → TransientSendError', async () => {
        const payload = h.payload(h.recipients.ok);
        const err = await send(payload, h.unreachable(await closedPort())).then(
          () => expect.fail('a send to a closed port should have failed'),
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(TransientSendError);
        expect(err).toMatchObject({ code: h.expected.networkCode, retryClass: 'transient' });
      });

      test('rate-limited', 'rate limited → RateLimitedError with retryAfterMs > 0', async () => {
        const err = (await sendFailure('rateLimited', RateLimitedError)) as RateLimitedError;
        expect(err.code).toBe(h.expected.rateLimitedCode);
        expect(err.retryClass).toBe('rate_limited');
        expect(err.retryAfterMs).toBeGreaterThan(0);
        if (h.expected.retryAfterMs !== undefined) expect(err.retryAfterMs).toBe(h.expected.retryAfterMs);
      });
    });

    describe('verifyCredentials', () => {
      it('accepts the working credentials', async () => {
        const check = await h.adapter.verifyCredentials(h.channel.credentials);
        expect(check).toMatchObject({ ok: true, detail: expect.any(String) as unknown });
        expectNoSecrets(h, check.detail);
      });

      it('refuses a wrong secret, saying why without the secret', async () => {
        const check = await h.adapter.verifyCredentials(h.badCredentials);
        expect(check.ok).toBe(false);
        expect(check.detail).not.toBe('');
        expectNoSecrets(h, check.detail);
      });
    });

    describe('webhooks', () => {
      it('parses a realistic status webhook into our message id or the provider id, with the mapped status', async () => {
        const { payload, result, request } = await statusWebhook();
        const updates = h.adapter.parseStatusUpdates(request, h.channel.credentials);
        expect(updates).toContainEqual(
          expect.objectContaining({
            providerMessageId: result.providerMessageId,
            status: h.status.expected,
            ...(h.status.carriesMessageId ? { messageId: payload.messageId } : {}),
            occurredAt: expect.any(Date) as unknown,
          }),
        );
        // The route reads every webhook both ways: a receipt is no inbound message.
        expect(h.adapter.parseInbound(request, h.channel.credentials)).toEqual([]);
      });

      const inbound = () => (h.inbound === 'out-of-scope' ? undefined : h.inbound);
      it('parses a realistic inbound webhook (where the channel has inbound; else a status webhook gives [])', async () => {
        const source = inbound();
        if (!source) {
          // Inbound is out of scope for this channel: nothing a webhook carries is an inbound message.
          expect(h.adapter.parseInbound((await statusWebhook()).request, h.channel.credentials)).toEqual([]);
          return;
        }
        const { request, expected } = await source.simulate();
        const messages = h.adapter.parseInbound(request, h.channel.credentials);
        expect(messages).toEqual([expect.objectContaining({ ...expected, receivedAt: expect.any(Date) as unknown })]);
        expect(h.adapter.parseStatusUpdates(request, h.channel.credentials)).toEqual([]);
        expect(h.adapter.verifyWebhookSignature(request, signingSecret(h.adapter, h.channel))).toBe(true);
      });

      it('signature: as the provider signed it → true', async () => {
        const { request } = await statusWebhook();
        expect(h.adapter.verifyWebhookSignature(request, signingSecret(h.adapter, h.channel))).toBe(true);
      });

      it("signature: another channel's secret → false", async () => {
        const { request } = await statusWebhook();
        const other = signingSecret(h.adapter, h.signature.otherChannel);
        expect(other).not.toBe(signingSecret(h.adapter, h.channel));
        expect(h.adapter.verifyWebhookSignature(request, other)).toBe(false);
      });

      it('signature: tampered request → false', async () => {
        const { request } = await statusWebhook();
        expect(h.adapter.verifyWebhookSignature(h.signature.tamper(request), signingSecret(h.adapter, h.channel))).toBe(false);
      });

      it('signature: missing → false', async () => {
        const { request } = await statusWebhook();
        expect(h.adapter.verifyWebhookSignature(h.signature.strip(request), signingSecret(h.adapter, h.channel))).toBe(false);
      });

      it('malformed bodies → WebhookPayloadError (answered 400), never another error', () => {
        expect(h.malformed.length).toBeGreaterThan(0);
        for (const { what, request } of h.malformed) {
          // The route's order: status updates, then inbound messages.
          const parse = () => [h.adapter.parseStatusUpdates(request, h.channel.credentials), h.adapter.parseInbound(request, h.channel.credentials)];
          expect(parse, what).toThrow(WebhookPayloadError);
        }
      });
    });
  });
}

/** The secret the route verifies a channel's webhooks with. */
export function signingSecret(adapter: ChannelAdapter, channel: WebhookSecrets): string {
  return adapter.webhookSigningSecret?.(channel.credentials) ?? channel.webhookSecret;
}

function expectNoSecrets(h: ContractHarness, text: string): void {
  const values = h.secretKeys.flatMap((k) => [h.channel.credentials[k], h.badCredentials[k]]).filter((v): v is string => !!v);
  expect(values.length).toBeGreaterThan(0);
  for (const secret of values) expect(text).not.toContain(secret);
}
