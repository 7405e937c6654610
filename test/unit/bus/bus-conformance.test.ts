/**
 * Bus conformance: every adapter must pass every test here (one suite for every adapter).
 * A routed bus (`capabilities.routed`) delivers a user's events only to the
 * servers that attached the user; an unrouted one (one process) delivers everything to
 * every subscriber. Adapters needing a service skip with "skipped: ..." when it is missing,
 * unless PARLEY_REQUIRE_SERVICES=1.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BusEvent } from '@parley/server';
import { collect, selectedBusAdapters } from './bus-adapters.js';
import type { BusCluster, ServerBus } from './bus-adapters.js';

let n = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`;

type Server = { bus: ServerBus; col: ReturnType<typeof collect> };

const isProbe = (e: BusEvent) => e.type === 'deliver' && e.frame.startsWith('probe:');
/** Events other than the probes `settle` sends. */
const real = (s: Server) => s.col.events.filter((e) => !isProbe(e) && e.type !== 'resync');
const sortedUsers = (e: BusEvent | undefined) => (e?.type === 'deliver' ? [...e.userIds].sort() : e);

for (const adapter of selectedBusAdapters()) {
  describe(`bus conformance: ${adapter.name}`, () => {
    const { routed } = adapter.capabilities;
    let cluster: BusCluster;
    let skip: string | null = null;

    beforeEach(async (ctx) => {
      skip = await adapter.unavailable();
      if (skip) {
        if (process.env.PARLEY_REQUIRE_SERVICES) throw new Error(`${adapter.name}: ${skip}`);
        console.warn(`skipped: ${adapter.name}: ${skip}`);
        ctx.skip();
        return;
      }
      cluster = await adapter.open();
    });
    afterEach(async () => {
      if (!skip) await cluster.cleanup();
    });

    async function servers(count: number): Promise<Server[]> {
      const out: Server[] = [];
      for (let i = 0; i < count; i++) {
        const bus = await cluster.server();
        out.push({ bus, col: collect(bus) });
      }
      return out;
    }

    /**
     * Wait until everything the given servers published so far has arrived: each sends a
     * probe to a user attached on each server, and events from one publisher stay in order,
     * so a server that got every probe got everything sent to it before them.
     */
    async function settle(list: Server[]): Promise<void> {
      for (const t of list) {
        const probe = uid('probe_');
        await t.bus.attach?.(probe);
        for (const s of list) s.bus.publish({ type: 'deliver', userIds: [probe], frame: `probe:${probe}` });
        await t.col.until(
          (evs) =>
            evs.filter((e) => e.type === 'deliver' && e.frame === `probe:${probe}`).length >= list.length,
        );
        await t.bus.detach?.(probe);
      }
    }

    it('delivers to the server holding the user, with the exact frame and pos', async () => {
      const [a, b] = (await servers(2)) as [Server, Server];
      const u = uid('u_');
      await a.bus.attach?.(u);
      const frame = JSON.stringify({ type: 'message', text: 'héllo "x"\n\u2028 🎉' });
      b.bus.publish({ type: 'deliver', userIds: [u], frame, pos: 42 });
      b.bus.publish({ type: 'deliver', userIds: [u], frame: 'no-pos' });
      await a.col.until((evs) => evs.filter((e) => !isProbe(e)).length >= 2);
      await settle([a, b]);
      const want = [
        { type: 'deliver', userIds: [u], frame, pos: 42 },
        { type: 'deliver', userIds: [u], frame: 'no-pos' },
      ];
      expect(real(a)).toEqual(want);
      expect(real(a)[1]).not.toHaveProperty('pos');
      expect(real(b)).toEqual(routed ? [] : want);
    });

    it('sends each server only the users it holds', async () => {
      const [a, b, c] = (await servers(3)) as [Server, Server, Server];
      const [u1, u2, u3, u4, offline] = [uid('u1_'), uid('u2_'), uid('u3_'), uid('u4_'), uid('off_')];
      await a.bus.attach?.(u1);
      await b.bus.attach?.(u2);
      await c.bus.attach?.(u3);
      await a.bus.attach?.(u4); // one user with devices on two servers
      await b.bus.attach?.(u4);
      const all = [u1, u2, u3, u4, offline];
      c.bus.publish({ type: 'deliver', userIds: all, frame: 'f', pos: 7 });
      await settle([a, b, c]);
      for (const [s, mine] of [
        [a, [u1, u4]],
        [b, [u2, u4]],
        [c, [u3]],
      ] as const) {
        expect(real(s).length).toBe(1);
        expect(sortedUsers(real(s)[0])).toEqual(routed ? [...mine].sort() : [...all].sort());
        expect(real(s)[0]).toMatchObject({ frame: 'f', pos: 7 });
      }
    });

    it("gives each server its users' prev positions, in the order of its users", async () => {
      const [a, b, c] = (await servers(3)) as [Server, Server, Server];
      const [u1, u2, u3, u4] = [uid('u1_'), uid('u2_'), uid('u3_'), uid('u4_')];
      await a.bus.attach?.(u1);
      await b.bus.attach?.(u2);
      await c.bus.attach?.(u3);
      await a.bus.attach?.(u4);
      await b.bus.attach?.(u4);
      const all = [u1, u2, u4, u3];
      c.bus.publish({ type: 'deliver', userIds: all, frame: 'f', pos: 50, prev: [11, 22, 44, 33] });
      await settle([a, b, c]);
      const full = { type: 'deliver', userIds: all, frame: 'f', pos: 50, prev: [11, 22, 44, 33] };
      expect(real(a)).toEqual([routed ? { ...full, userIds: [u1, u4], prev: [11, 44] } : full]);
      expect(real(b)).toEqual([routed ? { ...full, userIds: [u2, u4], prev: [22, 44] } : full]);
      expect(real(c)).toEqual([routed ? { ...full, userIds: [u3], prev: [33] } : full]);
    });

    it('keeps publish order when one turn names more users than one lookup takes', async () => {
      const [a, b] = (await servers(2)) as [Server, Server];
      const u = uid('u_');
      await a.bus.attach?.(u);
      // 2,500 users without a connection anywhere, two per event beside u: three lookups.
      const base = uid('off_');
      for (let pos = 1; pos <= 1250; pos++) {
        b.bus.publish({
          type: 'deliver',
          userIds: [`${base}_${pos}a`, u, `${base}_${pos}b`],
          frame: 'f',
          pos,
        });
      }
      await settle([a, b]);
      const got = real(a).map((e) => (e.type === 'deliver' ? e.pos : null));
      expect(got).toEqual(Array.from({ length: 1250 }, (_, i) => i + 1));
      if (routed) expect(real(a).every((e) => e.type === 'deliver' && e.userIds.length === 1)).toBe(true);
    });

    it('routes recheck to the servers holding the users', async () => {
      const [a, b, c] = (await servers(3)) as [Server, Server, Server];
      const [u1, u2, offline] = [uid('u1_'), uid('u2_'), uid('off_')];
      await a.bus.attach?.(u1);
      await b.bus.attach?.(u2);
      c.bus.publish({ type: 'recheck', userIds: [u1, u2, offline] });
      await settle([a, b, c]);
      const all = { type: 'recheck', userIds: [u1, u2, offline] };
      expect(real(a)).toEqual([routed ? { type: 'recheck', userIds: [u1] } : all]);
      expect(real(b)).toEqual([routed ? { type: 'recheck', userIds: [u2] } : all]);
      expect(real(c)).toEqual(routed ? [] : [all]);
    });

    it('resolves flushed once what was published has left, even when nothing can be sent', async () => {
      const [a, b] = (await servers(2)) as [Server, Server];
      const u = uid('u_');
      await a.bus.attach?.(u);
      b.bus.publish({ type: 'deliver', userIds: [u], frame: 'f', pos: 1 });
      await b.bus.flushed();
      await a.col.until((evs) => evs.some((e) => e.type === 'deliver' && e.frame === 'f'));
      if (cluster.unreachable) {
        const down = await cluster.unreachable();
        down.publish({ type: 'deliver', userIds: [u], frame: 'lost', pos: 2 });
        await down.flushed();
        await down.close();
      }
      expect(real(a).filter((e) => e.type === 'deliver' && e.frame === 'lost')).toEqual([]);
    });

    it('broadcasts revoke to every server once', async () => {
      const list = await servers(3);
      list[1]!.bus.publish({ type: 'revoke', deviceIds: ['d1', 'd2'] });
      await settle(list);
      for (const s of list) expect(real(s)).toEqual([{ type: 'revoke', deviceIds: ['d1', 'd2'] }]);
    });

    it('stops delivering to a server after detach', async () => {
      const [a, b] = (await servers(2)) as [Server, Server];
      const u = uid('u_');
      await a.bus.attach?.(u);
      await a.bus.detach?.(u);
      b.bus.publish({ type: 'deliver', userIds: [u], frame: 'gone', pos: 1 });
      await settle([a, b]);
      expect(real(a).length).toBe(routed ? 0 : 1);
    });

    it('keeps publish order for a burst larger than one bus message', async () => {
      const [a, b] = (await servers(2)) as [Server, Server];
      const u = uid('u_');
      await a.bus.attach?.(u);
      const big = 'x'.repeat(5000);
      // One event-loop turn, as a committed batch fans out: ~1.5 MB in all.
      for (let pos = 1; pos <= 300; pos++) b.bus.publish({ type: 'deliver', userIds: [u], frame: big, pos });
      await settle([a, b]);
      const got = real(a).map((e) => (e.type === 'deliver' ? [e.pos, e.frame.length] : null));
      expect(got).toEqual(Array.from({ length: 300 }, (_, i) => [i + 1, 5000]));
    });

    it('stops one handler when it unsubscribes', async () => {
      const [a] = (await servers(1)) as [Server];
      const u = uid('u_');
      await a.bus.attach?.(u);
      const seen: BusEvent[] = [];
      const off = a.bus.subscribe((e) => seen.push(e));
      a.bus.publish({ type: 'deliver', userIds: [u], frame: 'one' });
      off();
      a.bus.publish({ type: 'deliver', userIds: [u], frame: 'two' });
      await settle([a]);
      expect(seen.filter((e) => !isProbe(e)).map((e) => e.type === 'deliver' && e.frame)).toEqual(['one']);
      expect(real(a).length).toBe(2);
    });

    it('delivers nothing after close and leaves nothing behind', async () => {
      const [a, b] = (await servers(2)) as [Server, Server];
      const u = uid('u_');
      await a.bus.attach?.(u);
      await b.bus.attach?.(uid('u_'));
      await a.bus.close();
      b.bus.publish({ type: 'deliver', userIds: [u], frame: 'late' });
      await settle([b]);
      expect(real(a)).toEqual([]);
      await b.bus.close();
      expect(await cluster.leftovers()).toEqual([]);
    });

    // Only for adapters with a service to lose (not defined at all for the others).
    const withService = adapter.service ? it : ((() => undefined) as unknown as typeof it);
    withService(
      'registers its routes again and resubscribes after losing the service',
      async () => {
        if (!cluster.interrupt) throw new Error('a service adapter must support interrupt');
        const [a, b] = (await servers(2)) as [Server, Server];
        const u = uid('u_');
        await a.bus.attach?.(u);
        await cluster.interrupt(a.bus); // the service forgets everything and drops a's connections
        // The bus is a hint: events published before a is back may be lost, so keep sending
        // until one arrives (at most a few reconnect delays).
        const deadline = Date.now() + 10_000;
        let pos = 0;
        while (!real(a).length && Date.now() < deadline) {
          b.bus.publish({ type: 'deliver', userIds: [u], frame: 'after', pos: ++pos });
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(real(a)[0]).toMatchObject({ type: 'deliver', userIds: [u], frame: 'after' });
        // And it tells its chat server that events may have been lost (catch-up from the store).
        expect(a.col.events.some((e) => e.type === 'resync')).toBe(true);
      },
      20_000,
    );

    withService('never throws and still delivers locally while the service is unreachable', async () => {
      if (!cluster.unreachable) throw new Error('a service adapter must support unreachable');
      const bus = await cluster.unreachable();
      await expect(bus.ready?.()).rejects.toThrow();
      const col = collect(bus);
      const u = uid('u_');
      await bus.attach?.(u); // resolves: the route is registered once the service is back
      expect(() =>
        bus.publish({ type: 'deliver', userIds: [u, uid('u_')], frame: 'local', pos: 1 }),
      ).not.toThrow();
      expect(() => bus.publish({ type: 'revoke', deviceIds: ['d'] })).not.toThrow();
      expect(col.events).toEqual([
        { type: 'deliver', userIds: [u], frame: 'local', pos: 1 },
        { type: 'revoke', deviceIds: ['d'] },
      ]);
      await bus.close();
    });
  });
}
