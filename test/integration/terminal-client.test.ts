/**
 * `parley chat` and `parley user add` driven through a pseudo-terminal, against the real
 * server. What the program writes goes through a headless terminal emulator, so the tests
 * assert on what a person would see on the screen.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import xterm from '@xterm/headless';
import pty from 'node-pty';
import type { IPty } from 'node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyHttp } from '@parley/client';
import { CLI, TEST_FLAGS, startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { eventually, newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';
import { uname } from '../helpers/raw.js';
import { escapeLine } from '../../packages/server/src/cli/terminal-text.js';

const COLS = 100;
/** What must not reach the terminal from another user's text. */
// eslint-disable-next-line no-control-regex -- control characters are the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u202e]/;

/** A program on a pseudo-terminal, its output fed to a terminal emulator. */
class Terminal {
  readonly proc: IPty;
  readonly term = new xterm.Terminal({
    cols: COLS,
    rows: 40,
    scrollback: 5000,
    allowProposedApi: true,
  });
  /** Everything the program wrote, escape sequences included. */
  raw = '';
  exitCode: number | null = null;

  /** Runs `parley ARGS`, or `file` with `args` when `file` is given. */
  constructor(args: string[], env: Record<string, string> = {}, file?: string) {
    const base = { ...process.env } as Record<string, string>;
    delete base.PARLEY_PASSWORD;
    this.proc = pty.spawn(file ?? process.execPath, file ? args : [CLI, ...args], {
      cols: COLS,
      rows: 40,
      env: { ...base, TERM: 'xterm-256color', ...env },
    });
    this.proc.onData((d) => {
      this.raw += d;
      this.term.write(d);
    });
    this.proc.onExit(({ exitCode }) => (this.exitCode = exitCode));
  }

  type(text: string): void {
    this.proc.write(text);
  }

  /** The screen and its scrollback, one string per line (rows wrapped by the terminal joined), trailing spaces dropped. */
  async lines(): Promise<string[]> {
    await new Promise<void>((resolve) => this.term.write('', resolve));
    const buf = this.term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < buf.length; i++) {
      const row = buf.getLine(i);
      const text = row?.translateToString(true) ?? '';
      if (row?.isWrapped && out.length > 0) out[out.length - 1] = out.at(-1)!.padEnd(COLS) + text;
      else out.push(text);
    }
    while (out.length > 0 && out.at(-1) === '') out.pop();
    return out;
  }

  async screen(): Promise<string> {
    return (await this.lines()).join('\n');
  }

  /** The row the cursor is on: the prompt and what is being typed. */
  async cursorLine(): Promise<string> {
    await new Promise<void>((resolve) => this.term.write('', resolve));
    const buf = this.term.buffer.active;
    return buf.getLine(buf.baseY + buf.cursorY)?.translateToString(true) ?? '';
  }

  async waitFor(text: string | RegExp): Promise<void> {
    let last = '';
    await eventually(
      async () => {
        last = await this.screen();
        return typeof text === 'string' ? last.includes(text) : text.test(last);
      },
      () =>
        `screen to show ${String(text)}; it shows:\n${last}\nraw: ${JSON.stringify(this.raw.slice(-2000))}`,
    );
  }

  async waitForPrompt(prompt: string): Promise<void> {
    let last = '';
    await eventually(
      async () => (last = await this.cursorLine()).startsWith(prompt),
      () => `the prompt ${prompt}; the cursor line is ${JSON.stringify(last)}`,
    );
  }

  async exited(): Promise<number> {
    await eventually(() => this.exitCode !== null, 'the program to exit');
    return this.exitCode!;
  }

  kill(): void {
    if (this.exitCode === null) this.proc.kill();
  }
}

let server: ServerHandle;
const terminals: Terminal[] = [];
let ana: TestUser;
let bob: TestUser;
let carol: TestUser;

/** `parley chat` logged in as `user` (the password from PARLEY_PASSWORD). */
async function chatAs(user: TestUser): Promise<Terminal> {
  const t = new Terminal(['chat', '--url', server.url, '--username', user.username], {
    PARLEY_PASSWORD: 'password123',
  });
  terminals.push(t);
  await t.waitFor(`Logged in as`);
  await t.waitForPrompt('> ');
  return t;
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

beforeAll(async () => {
  server = await startServer();
  [ana, bob, carol] = await Promise.all([newUser(server.url), newUser(server.url), newUser(server.url)]);
});

afterAll(async () => {
  for (const t of terminals) t.kill();
  await server?.stop();
  server?.cleanup();
});

describe('parley chat on a terminal', () => {
  it('never shows the password and keeps its spaces', async () => {
    const username = uname();
    const password = '  secret words  ';
    await new ParleyHttp({ baseUrl: server.url }).signup({
      username,
      password,
    });
    const t = new Terminal(['chat', '--url', server.url, '--username', username]);
    terminals.push(t);
    await t.waitFor('Password: ');
    t.type(`${password}\r`);
    await t.waitFor(`Logged in as ${username}`);
    expect(t.raw).not.toContain('secret');
    expect(await t.screen()).not.toContain('secret');
    t.type('/quit\r');
    expect(await t.exited()).toBe(0);
  });

  it('never shows the password typed on a terminal when the output is piped', async () => {
    const username = uname();
    await new ParleyHttp({ baseUrl: server.url }).signup({ username, password: 'piped output pw' });
    const chat = `'${process.execPath}' '${CLI}' chat --url ${server.url} --username ${username}`;
    const t = new Terminal(['-c', `${chat} | cat`], {}, '/bin/sh');
    terminals.push(t);
    await t.waitFor('Password: ');
    t.type('piped output pw\r');
    await t.waitFor(`Logged in as ${username}`);
    t.type('/quit\r');
    expect(await t.exited()).toBe(0);
    expect(t.raw).not.toContain('output pw');
  });

  it('shows control characters in messages from another user escaped, in history and live', async () => {
    const dm = await bob.http.direct({ username: ana.username });
    const hostile = (n: number) =>
      `start-${n}\u001b[2J\u001b[H\u001b]0;PWNED\u0007\u001b]52;c;ZWNobyBwd25lZA==\u0007` +
      `\u009b31m\r\u202eevil\u001b[8m end-${n}`;
    const escaped = (n: number) =>
      `${bob.username}: start-${n}^[[2J^[[H^[]0;PWNED^G^[]52;c;ZWNobyBwd25lZA==^G\\u009b31m^M\\u202eevil^[[8m end-${n}`;
    await bob.http.send(dm.id, { clientId: 'hostile-1', text: hostile(1) });
    const t = await chatAs(ana);
    t.type(`/open ${bob.username}\r`);
    await t.waitFor('end-1');
    await bob.http.send(dm.id, { clientId: 'hostile-2', text: hostile(2) });
    await t.waitFor('end-2');
    for (const n of [1, 2]) {
      const from = t.raw.indexOf(`start-${n}`);
      expect(t.raw.slice(from, t.raw.indexOf(`end-${n}`, from))).not.toMatch(CONTROLS);
      expect(await t.screen()).toContain(escaped(n));
    }
  });

  it('redraws the line being typed when a message arrives', async () => {
    const t = await chatAs(ana);
    t.type(`/dm ${carol.username}\r`);
    await t.waitForPrompt(`[${carol.username}] > `);
    t.type('half typed words');
    await eventually(async () => (await t.cursorLine()).endsWith('half typed words'), 'the typed text');
    const dm = await carol.http.direct({ username: ana.username });
    await carol.http.send(dm.id, {
      clientId: 'surprise',
      text: 'surprise arrives',
    });
    await t.waitFor('surprise arrives');
    // The message's line and the redrawn prompt may reach the terminal in two writes.
    const typing = `[${carol.username}] > half typed words`;
    await eventually(async () => (await t.lines()).at(-1) === typing, 'the typed line redrawn');
    const lines = await t.lines();
    expect(lines.find((l) => l.includes('surprise arrives'))).toMatch(
      new RegExp(`^\\S+( [AP]M)? #\\d+ ${carol.username}: surprise arrives$`),
    );
    expect(lines.filter((l) => l.includes('half typed'))).toEqual([typing]);
    expect(await t.cursorLine()).toBe(typing);
    t.type(' and more\r');
    await eventually(
      async () =>
        (await carol.http.history(dm.id)).messages.some((m) => m.text === 'half typed words and more'),
      'the whole typed line to be sent',
    );
  });

  it('shows a sent message once, and the prompt names the open chat', async () => {
    const t = await chatAs(ana);
    t.type(`/dm ${bob.username}\r`);
    await t.waitForPrompt(`[${bob.username}] > `);
    t.type('only once please\r');
    await t.waitFor('you: only once please');
    // Give a second copy the time to arrive: the next command's answer comes after it.
    t.type('/members\r');
    await t.waitFor(`(@${bob.username}) member`);
    expect(count(await t.screen(), 'only once please')).toBe(1);
    expect(await t.cursorLine()).toBe(`[${bob.username}] > `);
  });

  it('replies, edits, reacts and deletes by message number, and shows what others do', async () => {
    await openToAll(bob);
    const t = await chatAs(ana);
    t.type(`/dm ${bob.username}\r`);
    await t.waitForPrompt(`[${bob.username}] > `);
    const dm = await bob.http.direct({ username: ana.username });
    const asked = await bob.http.send(dm.id, { clientId: 'cli-q', text: 'lunch at noon?' });
    await t.waitFor(`#${asked.seq} ${bob.username}: lunch at noon?`);
    t.type(`/reply ${asked.seq} sounds good\r`);
    await t.waitFor(`(re #${asked.seq}) sounds good`);
    const mine = (await bob.http.history(dm.id)).messages.find((m) => m.text === 'sounds good');
    expect(mine?.replyTo?.seq).toBe(asked.seq);
    const seq = mine?.seq ?? 0;
    t.type(`/edit ${seq} sounds great\r`);
    await t.waitFor(`you edited #${seq}: sounds great`);
    t.type(`/react ${asked.seq} 👍\r`);
    await t.waitFor(`you reacted 👍 to #${asked.seq}`);
    t.type(`/react ${asked.seq} 👍\r`);
    await t.waitFor(`you took back 👍 from #${asked.seq}`);
    await bob.http.act(dm.id, { clientId: 'cli-r', action: { kind: 'react', target: seq, emoji: '🎉' } });
    await t.waitFor(`${bob.username} reacted 🎉 to #${seq}`);
    t.type(`/delete ${seq}\r`);
    await t.waitFor(`you deleted #${seq}`);
    const after = (await bob.http.history(dm.id)).messages.find((m) => m.seq === seq);
    expect(after).toMatchObject({ deleted: true, text: '' });
    expect(
      (await bob.http.history(dm.id)).messages.find((m) => m.seq === asked.seq)?.reactions,
    ).toBeUndefined();
    t.type('/edit nope text\r');
    await t.waitFor('give a message number');
    // Reopened, history shows the folded state.
    t.type(`/dm ${bob.username}\r`);
    await t.waitFor(`#${seq} you: (deleted)`);
  });

  it('/attach uploads a file and sends it with a caption; attachments show as [kind name size]', async () => {
    await openToAll(bob);
    const dir = mkdtempSync(join(tmpdir(), 'parley-attach-'));
    const path = join(dir, 'trip notes.txt');
    writeFileSync(path, 'x'.repeat(1500));
    const t = await chatAs(ana);
    t.type(`/dm ${bob.username}\r`);
    await t.waitForPrompt(`[${bob.username}] > `);
    t.type(`/attach "${path}" see attached\r`);
    await t.waitFor('you: [file trip notes.txt 2 KB] see attached');
    const dm = await bob.http.direct({ username: ana.username });
    const sent = (await bob.http.history(dm.id)).messages.find((m) => m.text === 'see attached');
    expect(sent?.attachments).toMatchObject([{ kind: 'file', name: 'trip notes.txt', size: 1500 }]);
    // Another user's file with a bidi override in its name: the server drops it, nothing reaches the terminal.
    const up = await bob.http.upload(new Uint8Array([1, 2, 3]), { name: 'evil\u202etxt.exe' });
    await bob.http.send(dm.id, { clientId: 'cli-file', text: '', attachments: [{ uploadId: up.id }] });
    await t.waitFor(`${bob.username}: [file ${escapeLine(up.name)} 3 B]`);
    for (const line of await t.lines()) expect(line).not.toMatch(CONTROLS);
    t.type('/attach /no/such/file\r');
    await t.waitFor('ENOENT');
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a group whose name has spaces, and leaves it', async () => {
    await openToAll(bob, carol); // strangers to ana
    const t = await chatAs(ana);
    t.type(`/group "Weekend trip" ${bob.username} ${carol.username}\r`);
    await t.waitFor('-- Weekend trip (group, 3 members) --');
    await t.waitForPrompt('[Weekend trip] > ');
    const group = (await bob.http.conversations()).conversations.find((c) => c.name === 'Weekend trip');
    expect(group?.memberCount).toBe(3);
    t.type('/leave\r');
    await t.waitFor('(you left "Weekend trip")');
    await t.waitForPrompt('> ');
    const members = (await bob.http.members(group!.id)).members.map((m) => m.username);
    expect(members.sort()).toEqual([bob.username, carol.username].sort());
  });

  it('/help lists exactly the commands that exist', async () => {
    const t = await chatAs(ana);
    t.type('/help\r');
    await t.waitFor('Anything else is sent');
    const lines = await t.lines();
    const listed = lines
      .slice(lines.findIndex((l) => l.startsWith('Commands:')))
      .map((l) => /^ {2}\/(\w+)/.exec(l)?.[1])
      .filter((n) => n !== undefined);
    expect(listed.sort()).toEqual(
      [
        'add',
        'attach',
        'block',
        'contacts',
        'delete',
        'dm',
        'edit',
        'group',
        'help',
        'history',
        'leave',
        'list',
        'members',
        'open',
        'quit',
        'react',
        'read',
        'reply',
        'unblock',
      ].sort(),
    );
    const usage = spawnSync(process.execPath, [CLI, 'help'], { encoding: 'utf8' }).stdout;
    for (const name of listed) expect(usage).toMatch(new RegExp(`^ {2}/${name} `, 'm'));
    for (const name of listed.filter((n) => n !== 'quit')) t.type(`/${name}\r`);
    t.type('/nonsense\r');
    await t.waitFor('unknown command /nonsense');
    expect(count(await t.screen(), 'unknown command')).toBe(1);
    t.type('/quit\r');
    expect(await t.exited()).toBe(0);
    // Nothing left behind: no prompt, no notice of the connection closing.
    const after = await t.lines();
    expect(after.at(-1)).not.toBe('>');
    expect(after.join('\n')).not.toContain('(disconnected)');
  });

  it('/contacts lists contacts and pending requests both ways', async () => {
    const dave = await newUser(server.url);
    const t = await chatAs(dave);
    await bob.http.requestContact({ username: dave.username });
    await dave.http.requestContact({ username: carol.username });
    await ana.http.requestContact({ username: dave.username });
    await dave.http.acceptContact(ana.id);
    t.type('/contacts\r');
    await t.waitFor(new RegExp(`^${ana.username} \\(@${ana.username}\\) (online|offline)$`, 'm'));
    await t.waitFor(`${bob.username} (@${bob.username}) asks to be your contact`);
    await t.waitFor(`${carol.username} (@${carol.username}) has not answered your request yet`);
  });

  it('/block and /unblock a user', async () => {
    const erin = await newUser(server.url);
    const t = await chatAs(erin);
    t.type(`/block ${bob.username}\r`);
    await t.waitFor(`(blocked @${bob.username})`);
    await expect(bob.http.direct({ username: erin.username })).rejects.toMatchObject({ code: 'blocked' });
    t.type('/contacts\r');
    await t.waitFor(`${bob.username} (@${bob.username}) blocked`);
    t.type(`/unblock ${bob.username}\r`);
    await t.waitFor(`(unblocked @${bob.username})`);
    await expect(bob.http.direct({ username: erin.username })).resolves.toMatchObject({ kind: 'direct' });
  });

  it('/read marks the open chat read up to its last message', async () => {
    const fred = await newUser(server.url);
    const dm = await bob.http.direct({ username: fred.username });
    await bob.http.send(dm.id, { clientId: 'r1', text: 'first unread' });
    const t = await chatAs(fred);
    t.type(`/open ${bob.username}\r`);
    await t.waitFor(`${bob.username}: first unread`);
    const ack = await bob.http.send(dm.id, {
      clientId: 'r2',
      text: 'second unread',
    });
    await t.waitFor(`${bob.username}: second unread`);
    expect((await bob.http.receipts(dm.id, ack.seq)).read).toEqual([]);
    t.type('/read\r');
    await t.waitFor(`(marked "${bob.username}" read)`);
    expect((await bob.http.receipts(dm.id, ack.seq)).read).toEqual([fred.id]);
  });
});

describe('parley user add', () => {
  it('asks for the password without showing it, and keeps its spaces', async () => {
    const username = uname();
    const t = new Terminal([
      'user',
      'add',
      username,
      '--data-dir',
      server.dataDir,
      '--scrypt-log-n',
      TEST_FLAGS[TEST_FLAGS.indexOf('--scrypt-log-n') + 1]!,
    ]);
    terminals.push(t);
    await t.waitFor('Password: ');
    t.type(' hidden pass \r');
    await t.waitFor('Password again: ');
    t.type(' hidden pass \r');
    expect(await t.exited()).toBe(0);
    expect(t.raw).not.toContain('hidden');
    const http = new ParleyHttp({ baseUrl: server.url });
    await expect(http.login({ username, password: 'hidden pass' })).rejects.toMatchObject({
      code: 'invalid_credentials',
    });
    await expect(http.login({ username, password: ' hidden pass ' })).resolves.toMatchObject({
      user: { username },
    });
  });

  it('reads the password from piped stdin as it is', async () => {
    const username = uname();
    const r = spawnSync(
      process.execPath,
      [CLI, 'user', 'add', username, '--data-dir', server.dataDir, '--scrypt-log-n', '10'],
      {
        input: '  piped pass  \n',
        encoding: 'utf8',
        env: { ...process.env, PARLEY_PASSWORD: '' },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const http = new ParleyHttp({ baseUrl: server.url });
    await expect(http.login({ username, password: '  piped pass  ' })).resolves.toMatchObject({
      user: { username },
    });
  });
});
