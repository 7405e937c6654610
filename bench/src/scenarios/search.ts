/**
 * `search`: `--search-size` messages (default 1,000,000) stored first, appended to the
 * embedded server's database directly in batches of 512 (the server's own append path, from
 * this process: far faster than sending them), then searches at `--search-rate` per second (by
 * a worker process of its own) while the dm workload runs at `--rate` (default 5000).
 *
 * One user searches. A fifth of the messages are in their conversations (40 direct ones and a
 * group), the rest in conversations of others, which every search must leave out. Texts are
 * 4-12 words drawn from 5,000 made-up words by a Zipf law (a few words in many messages, most
 * in few), one in ten in Chinese, Japanese or Korean and one in twenty in Thai. Queries: Latin
 * words (frequent, middling, rare, two at once, one conversation only), prefixes, CJK, Thai
 * and a word no message has.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Store } from '@parley/server';
import { HttpApi, mapLimit, runPrefix, seedAccounts } from '../http-api.js';
import type { Account } from '../http-api.js';
import { now } from '../clock.js';
import { waitQuiet } from '../proc-stats.js';
import type { BenchResult } from '../result.js';
import { round } from '../result.js';
import type { LoadTiming } from '../worker/load-job.js';
import type { SearchQuerySpec, SearchTask } from '../worker/search-job.js';
import { WorkerPool } from '../worker/pool.js';
import type { RunContext } from './common.js';
import { roundLatencies, runLoadPhase } from './common.js';
import { loadParams, seedPairs } from './dm.js';

/** Server flags of the search run: one user searches many times a second. */
export const SEARCH_SERVER_FLAGS: readonly string[] = [
  '--search-rate-per-sec',
  '100000',
  '--search-burst',
  '100000',
];

const PARTNERS = 40;
const OTHERS = 200;
const OTHER_PAIRS = 100;
const GROUP_MEMBERS = 20;
const BATCH = 512;
const VOCABULARY = 5000;
/** After the fill, the machine's busy CPU (%) to wait for before the measured load starts. */
const SETTLED_PCT = 25;
/** Fills from this size wait for the machine to settle (the server checkpoints the fill's WAL). */
const SETTLE_FROM = 100_000;

type NewMessage = Parameters<Store['messages']['appendMessages']>[0][number];

const SERVER_DIST = fileURLToPath(new URL('../../../packages/server/dist', import.meta.url));

/** A small deterministic generator (mulberry32): every run stores the same texts. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'ren',
  'to',
  'sa',
  'vel',
  'dor',
  'pi',
  'nu',
  'qua',
  'zer',
  'lin',
  'ho',
  'be',
  'tis',
];
const CJK = [
  '北京',
  '東京',
  '会议',
  '明天',
  '今天',
  '我们',
  '天气',
  '电话',
  '서울',
  '회의',
  '내일',
  '오늘',
  'ラーメン',
  '新幹線',
  '予約',
];
const THAI = ['กรุงเทพ', 'สวัสดี', 'ประชุม', 'พรุ่งนี้', 'ร้านอาหาร'];

/** VOCABULARY distinct words of 2-4 syllables, in rank order. */
function vocabulary(rand: () => number): string[] {
  const words = new Set<string>();
  while (words.size < VOCABULARY) {
    const n = 2 + Math.floor(rand() * 3);
    let w = '';
    for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
    words.add(w);
  }
  return [...words];
}

/** Draws ranks 0..n-1 with probability ∝ 1 / (rank + 1). */
function zipf(n: number, rand: () => number): () => number {
  const cdf: number[] = [];
  let sum = 0;
  for (let k = 1; k <= n; k++) cdf.push((sum += 1 / k));
  return () => {
    const x = rand() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

function texts(words: string[], rand: () => number): () => string {
  const rank = zipf(words.length, rand);
  const pick = <T>(a: readonly T[]) => a[Math.floor(rand() * a.length)] as T;
  return () => {
    const kind = rand();
    const n = 4 + Math.floor(rand() * 9);
    if (kind < 0.1) return Array.from({ length: Math.ceil(n / 2) }, () => pick(CJK)).join('');
    if (kind < 0.15) return Array.from({ length: Math.ceil(n / 2) }, () => pick(THAI)).join('');
    return Array.from({ length: n }, () => words[rank()]).join(' ');
  };
}

/** Append `size` messages to the server's database file, `share` of them in `mine`. */
async function fill(
  ctx: RunContext,
  store: Store,
  size: number,
  mine: { id: string; senders: string[] }[],
  others: { id: string; senders: string[] }[],
  words: string[],
): Promise<number> {
  const rand = random(7);
  const text = texts(words, rand);
  const t0 = now();
  let lastLog = t0;
  const start = Date.now() - 90 * 24 * 3600 * 1000;
  for (let done = 0; done < size;) {
    const batch: NewMessage[] = [];
    for (let k = 0; k < BATCH && done < size; k++, done++) {
      // A fifth of the messages are the searcher's.
      const pool = rand() < 0.2 ? mine : others;
      const conv = pool[Math.floor(rand() * pool.length)] as { id: string; senders: string[] };
      const sender = conv.senders[Math.floor(rand() * conv.senders.length)] as string;
      batch.push({
        id: `f${done}`,
        conversationId: conv.id,
        senderId: sender,
        clientId: `fill-${done}`,
        text: text(),
        // Spread over the last 90 days, oldest first, so that age weighs in the ranks.
        createdAt: start + Math.floor((done / size) * 89 * 24 * 3600 * 1000),
      });
    }
    for (const r of await store.messages.appendMessages(batch)) {
      if (!r.ok) throw new Error(`fill: append refused: ${r.code}`);
    }
    const t = now();
    if (t - lastLog > 5000) {
      lastLog = t;
      ctx.log(`stored ${done} of ${size} messages (${Math.round((done / (t - t0)) * 1000)}/s)`);
    }
  }
  return (now() - t0) / 1000;
}

export async function runSearch(ctx: RunContext): Promise<BenchResult> {
  const { opts, server } = ctx;
  if (!server.dataDir)
    throw new Error('the search scenario fills an embedded server: not with --cluster or --target');
  const size = Math.max(1, opts.searchSize);
  const api = new HttpApi(server.url);
  try {
    const accounts = await seedAccounts(api, `${runPrefix()}s`, 1 + PARTNERS + OTHERS);
    ctx.log(`signed up ${accounts.length} users`);
    const searcher = accounts[0] as Account;
    const partners = accounts.slice(1, 1 + PARTNERS);
    const others = accounts.slice(1 + PARTNERS);
    const mine = await mapLimit(partners, 16, async (p) => {
      const c = await api.direct(searcher.token, p.username);
      return { id: c.id, senders: [searcher.userId, p.userId] };
    });
    const members = partners.slice(0, GROUP_MEMBERS);
    const group = await api.group(
      searcher.token,
      'search bench',
      members.map((m) => m.username),
    );
    mine.push({ id: group.id, senders: [searcher.userId, ...members.map((m) => m.userId)] });
    const theirs = await mapLimit(
      Array.from({ length: OTHER_PAIRS }, (_, i) => i),
      16,
      async (i) => {
        const a = others[(2 * i) % others.length] as Account;
        const b = others[(2 * i + 1) % others.length] as Account;
        const c = await api.direct(a.token, b.username);
        return { id: c.id, senders: [a.userId, b.userId] };
      },
    );

    ctx.log(`opened ${mine.length + theirs.length} conversations`);
    const words = vocabulary(random(3));
    // The server's own store code, on its database file: its appends index as the server's do.
    const dist = pathToFileURL(join(resolve(SERVER_DIST), 'index.js')).href;
    const { SqliteStore } = (await import(dist)) as { SqliteStore: new (o: { path: string }) => Store };
    const store = new SqliteStore({ path: join(server.dataDir, 'parley.db') });
    let fillS: number;
    try {
      ctx.log(`storing ${size} messages`);
      fillS = await fill(ctx, store, size, mine, theirs, words);
    } finally {
      await store.close();
    }
    ctx.log(`stored ${size} messages in ${round(fillS)} s`);
    const settleFrom = now();
    // A small fill leaves nothing to settle (and smoke runs have no minutes to wait).
    if (size >= SETTLE_FROM) await waitQuiet(SETTLED_PCT, ctx.log, 120_000);
    const settled = round((now() - settleFrom) / 1000);

    const queries: SearchQuerySpec[] = [
      { kind: 'latin_frequent', q: words[3] as string },
      { kind: 'latin_middling', q: words[200] as string },
      { kind: 'latin_rare', q: words[4000] as string },
      { kind: 'latin_two_words', q: `${words[10] as string} ${words[50] as string}` },
      { kind: 'prefix', q: (words[100] as string).slice(0, 3) },
      { kind: 'cjk', q: '北京' },
      { kind: 'cjk', q: '서울' },
      { kind: 'cjk', q: '新幹線' },
      { kind: 'thai', q: 'กรุงเทพ' },
      { kind: 'no_match', q: 'xyzzyq' },
      { kind: 'one_conversation', q: words[3] as string, conversationId: group.id },
    ];
    const clients = opts.clients ?? 200;
    const convs = await seedPairs(ctx, Math.max(1, Math.floor(clients / 2)));
    const rate = opts.rate ?? 5000;
    const searchers = WorkerPool.start(1);
    let r;
    try {
      r = roundLatencies(
        await runLoadPhase(ctx, {
          convs,
          ...loadParams(ctx, rate),
          extraPids: searchers.pids,
          during: (timing: LoadTiming) =>
            searchers.call<Record<string, unknown>>(0, 'search.run', {
              url: server.url,
              token: searcher.token,
              queries,
              rate: opts.searchRate,
              timing,
            } satisfies SearchTask),
        }),
      );
    } finally {
      await searchers.close();
    }
    return {
      scenario: 'search',
      search_size: size,
      fill_s: round(fillS),
      fill_per_s: round(size / fillS),
      settle_s: settled,
      ...r,
    };
  } finally {
    api.close();
  }
}
