// Bytes written per message by the embedded store's append path, by SQLite configuration:
// the statements of SqliteStore.appendOne (packages/server/src/store/sqlite/sqlite-store.ts,
// schema of its migrations, trimmed to the touched columns) over 500 direct conversations,
// 200,000 messages after a 20,000-message warm-up. A standalone experiment for
// docs/performance.md, not part of the bench CLI; it copies the schema, so re-check it against
// the migrations before trusting new numbers.
//
//   node bench/experiments/sqlite-write-amp.mjs PAGE_SIZE WAL_AUTOCHECKPOINT NO_SENDER_READ NO_IDEM_INDEX BATCH [PER_BATCH]
//   e.g. 4096 1000 0 0 24 (the defaults before per-batch counters, ~24 messages per commit as at 10k msgs/s)
//   PER_BATCH=1 writes each conversation's last_seq and each sender's read cursor once per
//   commit, as SqliteStore.appendMessages does now.
//
// Prints bytes passed to write(2) per message (WAL frames and checkpoint writes: wchar of
// /proc/self/io), write calls per message and CPU-side microseconds per message.
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const io = () => {
  const t = readFileSync('/proc/self/io', 'utf8');
  const g = (k) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(t)[1]);
  return { wchar: g('wchar'), syscw: g('syscw') };
};
const [pageSize, autockpt, noSenderRead, noIdem, batch, perBatch = 0] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'parley-wa-'));
const db = new Database(`${dir}/x.db`);
db.pragma(`page_size = ${pageSize}`);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('cache_size = -65536');
db.pragma(`wal_autocheckpoint = ${autockpt}`);
db.exec(`CREATE TABLE conversations (id TEXT PRIMARY KEY, last_activity_at INTEGER, last_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE members (conversation_id TEXT, user_id TEXT, read_seq INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (conversation_id, user_id)) WITHOUT ROWID;
CREATE TABLE messages (pos INTEGER PRIMARY KEY, conversation_id TEXT, seq INTEGER, id TEXT, sender_id TEXT, client_id TEXT, text TEXT, created_at INTEGER);
CREATE UNIQUE INDEX mcs ON messages(conversation_id, seq);
${noIdem ? '' : 'CREATE UNIQUE INDEX midem ON messages(sender_id, client_id);'}
CREATE TABLE feed (user_id TEXT, pos INTEGER, PRIMARY KEY (user_id, pos)) WITHOUT ROWID;`);
const rid = () => Math.random().toString(36).slice(2, 14) + Math.random().toString(36).slice(2, 6);
const convs = Array.from({ length: 500 }, () => ({ id: 'c_' + rid(), users: ['u_' + rid(), 'u_' + rid()] }));
const ins = db.transaction(() => {
  for (const c of convs) {
    db.prepare('INSERT INTO conversations VALUES (?,0,0)').run(c.id);
    for (const u of c.users) db.prepare('INSERT INTO members VALUES (?,?,0)').run(c.id, u);
  }
});
ins();
const s = {
  idem: db.prepare(
    noIdem ? 'SELECT 1 WHERE ? AND ?' : 'SELECT * FROM messages WHERE sender_id = ? AND client_id = ?',
  ),
  members: db.prepare('SELECT user_id FROM members WHERE conversation_id = ?').pluck(),
  bump: db
    .prepare(
      'UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = ? WHERE id = ? RETURNING last_seq',
    )
    .pluck(),
  msg: db.prepare(
    'INSERT INTO messages (conversation_id, seq, id, sender_id, client_id, text, created_at) VALUES (?,?,?,?,?,?,?)',
  ),
  feed: db.prepare('INSERT INTO feed VALUES (?,?)'),
  read: db.prepare(
    'UPDATE members SET read_seq = ? WHERE conversation_id = ? AND user_id = ? AND read_seq < ?',
  ),
  last: db.prepare('SELECT last_seq FROM conversations WHERE id = ?').pluck(),
  setLast: db.prepare('UPDATE conversations SET last_seq = ?, last_activity_at = ? WHERE id = ?'),
};
const text = 'x'.repeat(100);
let n = 0;
const tx = db.transaction((k) => {
  const seqs = new Map();
  const reads = new Map();
  for (let i = 0; i < k; i++) {
    const c = convs[Math.floor(Math.random() * convs.length)];
    const u = c.users[i & 1];
    const cid = `${Date.now()}-${n++}`;
    s.idem.get(u, cid);
    const r = s.members.all(c.id);
    let seq;
    if (perBatch) {
      seq = (seqs.get(c.id) ?? s.last.get(c.id)) + 1;
      seqs.set(c.id, seq);
    } else seq = s.bump.get(Date.now(), c.id);
    const pos = Number(s.msg.run(c.id, seq, rid() + rid(), u, cid, text, Date.now()).lastInsertRowid);
    for (const x of r) s.feed.run(x, pos);
    if (noSenderRead) continue;
    if (perBatch) reads.set(`${c.id} ${u}`, [c.id, u, seq]);
    else s.read.run(seq, c.id, u, seq);
  }
  for (const [id, seq] of seqs) s.setLast.run(seq, Date.now(), id);
  for (const [id, u, seq] of reads.values()) s.read.run(seq, id, u, seq);
});
for (let i = 0; i < 20000 / batch; i++) tx(batch); // warm up: trees of a few MB
const total = 200000;
const a = io();
const t0 = process.hrtime.bigint();
for (let i = 0; i < total / batch; i++) tx(batch);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const b = io();
console.log(
  JSON.stringify({
    pageSize,
    autockpt,
    noSenderRead: !!noSenderRead,
    noIdem: !!noIdem,
    batch,
    perBatch: !!perBatch,
    bytesPerMsg: Math.round((b.wchar - a.wchar) / total),
    writesPerMsg: +((b.syscw - a.syscw) / total).toFixed(2),
    usPerMsg: +((ms * 1000) / total).toFixed(1),
  }),
);
db.close();
rmSync(dir, { recursive: true, force: true });
