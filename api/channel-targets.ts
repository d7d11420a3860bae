import { EgressPolicy, MAX_TIMEOUT_MS } from '../adapters/egress';
import type { ChannelAdapter, Credentials } from '../adapters/types';
import type { Config } from '../config';
import { ApiError, badRequest } from './errors';

/**
 * The egress and sandbox rules a channel's settings must pass, for creation and for
 * every update of its credentials or sandbox flag; throws the 4xx naming the field.
 * Sandbox channels exist only where the operator enables them (ALLOW_SANDBOX_CHANNELS),
 * and may reach only hosts on EGRESS_ALLOW (the operator's simulators). Every other
 * channel may not name an internal address outright; what a name resolves to is
 * checked again on every connection.
 */
export function checkChannelTargets(
  config: Pick<Config, 'egressAllow' | 'allowSandboxChannels'>,
  adapter: ChannelAdapter,
  credentials: Credentials,
  sandbox: boolean,
): void {
  if (sandbox && !config.allowSandboxChannels) {
    throw new ApiError(403, 'sandbox_channels_disabled', 'sandbox channels are not enabled on this deployment (ALLOW_SANDBOX_CHANNELS)', 'sandbox');
  }
  const timeout = credentials.timeout_ms;
  if (timeout !== undefined && timeout !== '' && (!/^\d{1,6}$/.test(timeout) || Number(timeout) < 1 || Number(timeout) > MAX_TIMEOUT_MS)) {
    throw badRequest('credentials.timeout_ms', `must be an integer from 1 to ${MAX_TIMEOUT_MS} (milliseconds)`);
  }
  const policy = new EgressPolicy(config.egressAllow);
  for (const target of adapter.egressTargets?.(credentials) ?? []) {
    const field = `credentials.${target.field}`;
    if ('problem' in target) throw badRequest(field, target.problem);
    const problem = policy.literalProblem(target.host);
    if (problem) throw badRequest(field, problem);
    if (sandbox && !policy.listed(target.host)) {
      throw badRequest(field, `a sandbox channel may only target hosts on EGRESS_ALLOW (the operator's simulators); ${target.host} is not`);
    }
  }
}
