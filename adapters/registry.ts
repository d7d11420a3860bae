import type { ChannelAdapter } from './types';
import type { ChannelType } from '../lifecycle';

export class AdapterRegistry {
  private readonly adapters = new Map<string, ChannelAdapter>();

  register(adapter: ChannelAdapter, provider: string = adapter.provider): this {
    this.adapters.set(key(adapter.channelType, provider), adapter);
    return this;
  }

  /** Throws when nothing is registered: a channel row naming an unknown provider is a config error. */
  get(channelType: ChannelType, provider = 'default'): ChannelAdapter {
    const adapter = this.adapters.get(key(channelType, provider));
    if (!adapter) throw new Error(`no adapter registered for (${channelType}, ${provider})`);
    return adapter;
  }

  has(channelType: ChannelType, provider = 'default'): boolean {
    return this.adapters.has(key(channelType, provider));
  }

  list(): Array<{ channelType: ChannelType; provider: string }> {
    return [...this.adapters.entries()].map(([k, a]) => ({ channelType: a.channelType, provider: k.split(':')[1] ?? '' }));
  }
}

function key(channelType: ChannelType, provider: string): string {
  return `${channelType}:${provider}`;
}
