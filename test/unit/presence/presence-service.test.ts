/** Presence fan-out: audiences looked up per turn, and never an older change after a newer one. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRIVACY } from '@parley/protocol';
import type { PrivacySettings } from '@parley/protocol';
import { MemoryBus } from '@parley/server';
import type { BusEvent } from '../../../packages/server/src/bus/bus.js';
import { PresenceService } from '../../../packages/server/src/presence/presence-service.js';
import type { PresenceListener, PresenceTracker } from '../../../packages/server/src/presence/presence.js';
import type { AccountStore, SocialStore } from '../../../packages/server/src/store/store.js';

/**
 * The account and social store calls PresenceService makes, with audience lookups held until
 * the test answers them, call by call.
 */
class GatedStore {
  readonly calls: { userIds: string[]; answer: () => void }[] = [];
  presenceAudiences(userIds: readonly string[]): Promise<string[][]> {
    return new Promise((resolve) => {
      this.calls.push({
        userIds: [...userIds],
        answer: () => resolve(userIds.map((u) => [`watcher-of-${u}`])),
      });
    });
  }
  async acceptedContacts(userIds: readonly string[]): Promise<string[][]> {
    return userIds.map((u) => [`watcher-of-${u}`]);
  }
  async getPrivacies(userIds: readonly string[]): Promise<PrivacySettings[]> {
    return userIds.map(() => DEFAULT_PRIVACY);
  }
  async setLastActive(): Promise<void> {}
}

function setup() {
  let listener: PresenceListener = () => {};
  const tracker = {
    onChange: (l: PresenceListener) => (listener = l),
    takeDirty: () => [],
    close: () => {},
  } as unknown as PresenceTracker;
  const store = new GatedStore();
  const bus = new MemoryBus();
  const frames: { userIds: readonly string[]; frame: { userId: string; online: boolean } }[] = [];
  bus.subscribe((e: BusEvent) => {
    if (e.type === 'deliver') frames.push({ userIds: e.userIds, frame: JSON.parse(e.frame) });
  });
  const log = { warn: () => {} } as never;
  const service = new PresenceService(
    tracker,
    store as unknown as AccountStore,
    store as unknown as SocialStore,
    bus,
    log,
  );
  const change = (userId: string, online: boolean) => listener(userId, { online, lastActiveAt: 1 });
  const turn = () => new Promise((r) => setImmediate(r));
  return { service, store, frames, change, turn };
}

describe('presence fan-out', () => {
  it('looks up the audiences of every change of one turn in one store call', async () => {
    const { service, store, frames, change, turn } = setup();
    change('a', true);
    change('b', true);
    change('c', false);
    await turn();
    expect(store.calls.map((c) => c.userIds)).toEqual([['a', 'b', 'c']]);
    store.calls[0]?.answer();
    await turn();
    expect(frames.map((f) => [f.userIds, f.frame.userId, f.frame.online])).toEqual([
      [['watcher-of-a'], 'a', true],
      [['watcher-of-b'], 'b', true],
      [['watcher-of-c'], 'c', false],
    ]);
    await service.close();
  });

  it('never sends an older change after a newer one when lookups finish out of order', async () => {
    const { service, store, frames, change, turn } = setup();
    change('a', true);
    await turn();
    change('a', false);
    await turn();
    expect(store.calls).toHaveLength(2);
    store.calls[1]?.answer(); // the offline lookup finishes first…
    await turn();
    store.calls[0]?.answer(); // …then the online one, which is stale now
    await turn();
    expect(frames.map((f) => [f.frame.userId, f.frame.online])).toEqual([['a', false]]);
    await service.close();
  });
});
