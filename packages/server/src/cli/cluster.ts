/**
 * `parley cluster` (`npm run cluster`): 1 API server and 3 chat servers on this machine
 * against local PostgreSQL and Redis, for trying cluster mode; `--shards N` spreads the store
 * over N databases (`parley`, `parley_2`, …). Prints the addresses; Ctrl-C stops them all
 * (SIGTERM: each chat server drains).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

/** Create the database named in `url` if it does not exist (connecting to `postgres` to do it). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1)) || 'parley';
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

/** `n` database URLs: the given one, then the same server with `_2`, `_3`, … after its name. */
export function shardUrls(url: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    if (i === 0) return url;
    const u = new URL(url);
    u.pathname = `${u.pathname.replace(/\/$/, '') || '/parley'}_${i + 1}`;
    return u.toString();
  });
}

export async function cluster(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      db: { type: 'string' },
      redis: { type: 'string' },
      chat: { type: 'string' },
      shards: { type: 'string' },
      'base-port': { type: 'string' },
      host: { type: 'string' },
    },
  });
  const shards = Number(values.shards ?? 1);
  if (!Number.isInteger(shards) || shards < 1 || shards > 64) throw new Error('--shards must be 1-64');
  const first = values.db ?? process.env.PARLEY_DB ?? 'postgres://postgres@127.0.0.1:5432/parley';
  const urls = first.includes(',') ? first.split(',') : shardUrls(first, shards);
  const redis = values.redis ?? process.env.PARLEY_REDIS ?? 'redis://127.0.0.1:6379';
  const chats = Number(values.chat ?? 3);
  const base = Number(values['base-port'] ?? process.env.PORT ?? 8080);
  const host = values.host ?? process.env.HOST ?? '127.0.0.1';
  for (const url of urls) await ensureDatabase(url);
  const db = urls.join(',');

  const children: ChildProcess[] = [];
  const start = (role: string, port: number, id: string) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          CLI,
          'serve',
          '--role',
          role,
          '--port',
          String(port),
          '--host',
          host,
          '--db',
          db,
          '--redis',
          redis,
          '--server-id',
          id,
          // The web app comes from the API server: its pages may open WebSockets on the chat servers.
          ...(role === 'chat' && !process.env.PARLEY_ALLOWED_ORIGINS
            ? ['--allowed-origins', `http://${host}:${base},http://localhost:${base}`]
            : []),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'], env: process.env },
      );
      children.push(child);
      let buf = '';
      child.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('"msg":"listening"')) resolve();
        if (buf.length > 65536) buf = buf.slice(-1024);
      });
      child.once('exit', (code) => reject(new Error(`${id} exited with ${code}`)));
    });

  const stop = () => {
    process.stdout.write('\nstopping the cluster…\n');
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  // The API server first: it applies migrations once, before the chat servers start.
  await start('api', base, 'api-1');
  await Promise.all(Array.from({ length: chats }, (_, i) => start('chat', base + 1 + i, `chat-${i + 1}`)));
  process.stdout.write(
    [
      'Parley cluster is up:',
      `  API server    http://${host}:${base}   (HTTP API, discovery: /v1/discovery)`,
      ...Array.from({ length: chats }, (_, i) => `  chat server   ws://${host}:${base + 1 + i}/v1/ws`),
      ...urls.map(
        (u, i) =>
          `  PostgreSQL    ${u.replace(/\/\/[^@/]*@/, '//…@')}${urls.length > 1 ? ` (shard database ${i})` : ''}`,
      ),
      `  Redis         ${redis.replace(/\/\/[^@/]*@/, '//…@')}`,
      'Ctrl-C stops them all.',
      '',
    ].join('\n'),
  );
  await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
}
