/**
 * The cluster's append path without the chat servers: N connections to a fresh PostgreSQL
 * database (one per chat server of `dm --cluster`) each append batches of B messages for
 * random pairs of U users, as fast as they can, for S seconds. Prints messages per second
 * and the latency of one `appendMessages` call, so that PostgreSQL's side of the cluster (its
 * locks, the per-call cost of the append function) can be measured apart from the rest.
 *
 *   node bench/dist/store-append.js [--appenders 3] [--batch 10] [--users 1000] [--seconds 8]
 *                                   [--shards 1] [--server-dist packages/server/dist]
 *
 * `--server-dist` loads another build of the server (a snapshot of packages/server/dist) for
 * A/B runs, like `--server-cli` does for the load generator (builds from before the sharded
 * store take one database only). `--shards N` spreads the store over N databases. They are
 * created with `PARLEY_BENCH_PG_URL` (see cluster.ts) and dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PG_ADMIN_URL, admin } from './cluster.js';
import type { AccountStore, ConversationStore, MessageStore, Store } from '@parley/server';
import { Histogram } from './histogram.js';

/** What this tool uses of @parley/server's PostgresStore (types only: the build is loaded at run time). */
type AppendStore = Pick<Store, 'close'> & {
  readonly accounts: Pick<AccountStore, 'createUser'>;
  readonly conversations: Pick<ConversationStore, 'getOrCreateDirect'>;
  readonly messages: Pick<MessageStore, 'appendMessages'>;
};
/** The same store as builds before the store ports had it: every method on one object. */
type FlatAppendStore = Pick<Store, 'close'> &
  Pick<AccountStore, 'createUser'> &
  Pick<ConversationStore, 'getOrCreateDirect'> &
  Pick<MessageStore, 'appendMessages'>;

/** Older builds (`--server-dist` of a commit before the ports) answer with a flat store. */
function aggregates(s: AppendStore | FlatAppendStore): AppendStore {
  return 'accounts' in s ? s : { accounts: s, conversations: s, messages: s, close: () => s.close() };
}
interface ServerModule {
  PostgresStore: {
    open(opts: { url: string | string[]; max: number }): Promise<AppendStore | FlatAppendStore>;
  };
}

const DEFAULT_DIST = fileURLToPath(new URL('../../packages/server/dist', import.meta.url));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      appenders: { type: 'string', default: '3' },
      batch: { type: 'string', default: '10' },
      users: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '8' },
      shards: { type: 'string', default: '1' },
      'server-dist': { type: 'string', default: DEFAULT_DIST },
    },
  });
  const appenders = Number(values.appenders);
  const batchSize = Number(values.batch);
  const users = Number(values.users);
  const seconds = Number(values.seconds);
  const shards = Number(values.shards);
  if (
    ![appenders, batchSize, users, seconds, shards].every((v) => Number.isInteger(v) && v > 0) ||
    users < 2
  ) {
    process.stderr.write(
      '--appenders, --batch, --seconds, --shards: positive integers; --users: an integer ≥ 2\n',
    );
    process.exit(2);
  }
  const dist = resolve(values['server-dist']);
  const { PostgresStore } = (await import(pathToFileURL(`${dist}/index.js`).href)) as ServerModule;
  const base = `parley_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const names = Array.from({ length: shards }, (_, i) => (i === 0 ? base : `${base}_${i + 1}`));
  const urls = names.map((n) => {
    const u = new URL(PG_ADMIN_URL);
    u.pathname = `/${n}`;
    return u.toString();
  });
  for (const n of names) await admin(`CREATE DATABASE ${n}`);
  const stores: AppendStore[] = [];
  try {
    for (let i = 0; i < appenders; i++)
      stores.push(
        aggregates(await PostgresStore.open({ url: shards === 1 ? (urls[0] as string) : urls, max: 2 })),
      );
    const seed = stores[0] as AppendStore;
    const now = Date.now();
    for (let i = 0; i < users; i++) {
      await seed.accounts.createUser({
        id: `u${i}`,
        username: `u${i}`,
        displayName: 'u',
        passwordHash: 'x',
        createdAt: now,
      });
    }
    const pairs: string[] = [];
    for (let i = 0; i + 1 < users; i += 2)
      pairs.push((await seed.conversations.getOrCreateDirect(`c${i}`, `u${i}`, `u${i + 1}`, now)).id);
    let n = 0;
    const text = 'x'.repeat(100);
    const batch = () =>
      Array.from({ length: batchSize }, () => {
        n++;
        const p = Math.floor(Math.random() * pairs.length);
        const c = pairs[p] as string;
        return {
          id: `m${n}`,
          conversationId: c,
          senderId: `u${2 * p + (n % 2)}`,
          clientId: `k${n}`,
          text,
          createdAt: now,
        };
      });
    // Warm every connection (first calls plan the function) before the clock starts.
    for (const s of stores) for (let i = 0; i < 20; i++) await s.messages.appendMessages(batch());
    const hist = new Histogram();
    let sent = 0;
    let failed = 0;
    const started = performance.now();
    const until = started + seconds * 1000;
    await Promise.all(
      stores.map(async (s) => {
        while (performance.now() < until) {
          const t0 = performance.now();
          const results = (await s.messages.appendMessages(batch())) as { ok: boolean }[];
          hist.recordMs(performance.now() - t0);
          for (const r of results)
            if (r.ok) sent++;
            else failed++;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    process.stdout.write(
      `appenders ${appenders}  batch ${batchSize}  users ${users}  shards ${shards}  msgs/s ${Math.round(sent / elapsed)}  ` +
        `call p50 ${(hist.quantileMs(0.5) ?? 0).toFixed(2)} ms  p99 ${(hist.quantileMs(0.99) ?? 0).toFixed(2)} ms` +
        `  failed ${failed}\n`,
    );
    if (failed > 0) process.exitCode = 1;
  } finally {
    await Promise.all(stores.map((s) => s.close().catch(() => {})));
    for (const n of names) await admin(`DROP DATABASE IF EXISTS ${n} WITH (FORCE)`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
