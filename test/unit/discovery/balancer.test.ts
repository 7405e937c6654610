/** Discovery's choice of chat server: spread by reported load plus its own recent answers. */
import { describe, expect, it } from 'vitest';
import { Balancer } from '../../../packages/server/src/discovery/registry.js';
import type { ChatServerInfo } from '../../../packages/server/src/discovery/registry.js';

const server = (id: string, load: number, region = 'default'): ChatServerInfo => ({
  id,
  url: `ws://${id}/v1/ws`,
  region,
  load,
  updatedAt: 0,
});

/** How many of `n` picks went to each server id. */
function tally(balancer: Balancer, servers: ChatServerInfo[], n: number, region?: string) {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = balancer.pick(servers, region).id;
    out[id] = (out[id] ?? 0) + 1;
  }
  return out;
}

describe('Balancer', () => {
  it('spreads a burst of clients over survivors whose reports lag', () => {
    // One server reports a little less: the least-loaded rule sent it the whole burst.
    const counts = tally(new Balancer(), [server('a', 90), server('b', 100)], 200);
    console.log('200 picks over loads 90 and 100:', counts);
    expect(counts.a).toBeGreaterThanOrEqual(100);
    expect(counts.a).toBeLessThanOrEqual(110);
    expect(counts.b).toBeGreaterThanOrEqual(90);
  });

  it('with three servers, no server gets far more than its share', () => {
    const counts = tally(new Balancer(), [server('a', 0), server('b', 0), server('c', 0)], 300);
    console.log('300 picks over three idle servers:', counts);
    for (const id of ['a', 'b', 'c']) expect(counts[id]).toBeLessThanOrEqual(120);
  });

  it('forgets its answers after the window: the reports count them by then', () => {
    let now = 0;
    const balancer = new Balancer(2000, Math.random, () => now);
    const servers = [server('a', 0), server('b', 0)];
    tally(balancer, servers, 10);
    expect(balancer.loadOf(servers[0]!) + balancer.loadOf(servers[1]!)).toBe(10);
    now = 2001;
    balancer.pick(servers);
    expect(balancer.loadOf(servers[0]!) + balancer.loadOf(servers[1]!)).toBe(1);
  });

  it("prefers the client's region, and fails with unavailable when nothing is up", () => {
    const counts = tally(new Balancer(), [server('eu', 500, 'eu'), server('us', 0, 'us')], 20, 'eu');
    expect(counts).toEqual({ eu: 20 });
    expect(() => new Balancer().pick([])).toThrow(expect.objectContaining({ code: 'unavailable' }));
  });
});
