/**
 * `parley chat`: a small terminal client built on the SDK, for trying Parley without a
 * browser. Log in, list conversations, open one, read history, send, see new messages live.
 *
 * On a terminal, the line being typed stays at the bottom under a prompt naming the open
 * conversation, and whatever arrives is printed above it. With stdin or stdout not a
 * terminal (a script), lines are read and printed plainly, without a prompt.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { clearScreenDown, createInterface, cursorTo, moveCursor } from 'node:readline';
import type { Interface, Key } from 'node:readline';
import { createInterface as createPromptInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { ParleyClient, ParleyError } from '@parley/client';
import { plainText } from '@parley/protocol';
import type { Conversation, Message, WebSocketConstructor } from '@parley/client';
import { attachmentLine, chatHelp, formatSize, parseAttach } from './chat-commands.js';
import type { ChatCommandName } from './chat-commands.js';
import { splitArgs } from './command-line.js';
import { readHidden } from './password-prompt.js';
import { escapeLine, escapeText, preview } from './terminal-text.js';

/** Lines typed, in order, for a loop that awaits each command before the next. */
class LineQueue {
  #lines: string[] = [];
  #waiting: ((line: string | null) => void) | null = null;
  #closed = false;
  push(line: string): void {
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = null;
      w(line);
    } else this.#lines.push(line);
  }
  close(): void {
    this.#closed = true;
    this.#waiting?.(null);
    this.#waiting = null;
  }
  /** The next line, or null once input ended and every line was taken. */
  next(): Promise<string | null> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.#waiting = resolve));
  }
}

/**
 * The terminal: output goes above the prompt line, which is then drawn again with what was
 * typed so far, so that nothing arriving splits the line being typed.
 */
class Screen {
  #rl: Interface | null = null;
  constructor(readonly out: NodeJS.WriteStream) {}

  /** From now on, keep `rl`'s prompt and line at the bottom. */
  attach(rl: Interface): void {
    this.#rl = rl;
    rl.once('close', () => {
      // Leave no prompt behind on exit (/quit, Ctrl-D, Ctrl-C).
      this.#clearInput(rl.getCursorPos().rows);
      this.#rl = null;
    });
  }

  print(text: string): void {
    this.#redraw(text);
  }

  setPrompt(prompt: string): void {
    this.#redraw(null, prompt);
  }

  /**
   * Clear the prompt and the typed line (it may wrap over several rows), print `text`, then
   * draw the prompt and the typed line again with the cursor where it was.
   */
  #redraw(text: string | null, prompt?: string): void {
    const rl = this.#rl;
    if (rl === null) {
      if (text !== null) this.out.write(`${text}\n`);
      return;
    }
    const { rows } = rl.getCursorPos();
    // readline redraws from `prevRows` rows above the cursor, a count it does not update
    // when typing wraps the line: leave that many rows below the text.
    const redrawFrom = (rl as unknown as { prevRows?: number }).prevRows ?? rows;
    this.#clearInput(rows);
    if (prompt !== undefined) rl.setPrompt(prompt);
    this.out.write(`${text === null ? '' : `${text}\n`}${'\n'.repeat(redrawFrom)}`);
    rl.prompt(true);
  }

  /** Stop keeping a prompt: the program ends. */
  close(): void {
    this.#rl?.close();
  }

  /** Erase the line just entered (it is shown again as a message once the server has it). */
  eraseEntered(rows: number): void {
    if (this.#rl !== null) this.#clearInput(rows);
  }

  /** Clear from the start of the row `rows` rows above the cursor to the end of the screen. */
  #clearInput(rows: number): void {
    moveCursor(this.out, 0, -rows);
    cursorTo(this.out, 0);
    clearScreenDown(this.out);
  }
}

/** The prompt: the open conversation's name, escaped. */
function promptFor(c: Conversation | null): string {
  return c ? `[${preview(c.name, 40)}] > ` : '> ';
}

/**
 * Run the client: `parley chat [--url URL] [--username NAME] [--signup]`. The URL defaults to
 * PARLEY_URL, then http://localhost:8080; the password comes from PARLEY_PASSWORD, else a
 * prompt, which reads stdin's next line when stdin is not a terminal. Returns on /quit or end
 * of input.
 */
export async function chat(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      username: { type: 'string' },
      signup: { type: 'boolean' },
    },
  });
  const url = values.url ?? process.env.PARLEY_URL ?? 'http://localhost:8080';
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const screen = new Screen(process.stdout);
  const print = (s: string): void => screen.print(s);
  const lines = new LineQueue();

  let username = values.username;
  let password = process.env.PARLEY_PASSWORD || undefined;
  // Typed on a terminal (even with stdout piped), the password is read with echo off, and
  // the chat's readline starts only once logged in: none may echo the password meanwhile.
  let rl: Interface | null = null;
  if (process.stdin.isTTY) {
    const promptOut = process.stdout.isTTY ? process.stdout : process.stderr;
    if (username === undefined) {
      const ask = createPromptInterface({ input: process.stdin, output: promptOut, terminal: true });
      username = await ask.question('Username: ');
      ask.close();
    }
    password ??= await readHidden('Password: ', process.stdin, promptOut);
  }
  if (!tty) {
    // One reader for the whole input: lines a script sends ahead must not be lost.
    rl = createInterface({ input: process.stdin, terminal: false });
    rl.on('line', (line) => lines.push(line));
    rl.on('close', () => lines.close());
    username ??= (await lines.next()) ?? '';
    password ??= (await lines.next()) ?? '';
  }
  username = (username ?? '').trim();
  if (password === undefined) throw new Error('input closed');

  const client = new ParleyClient({
    url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
  });
  if (values.signup) {
    try {
      await client.http.signup({ username, password });
    } catch (err) {
      if (!(err instanceof ParleyError && err.code === 'username_taken')) throw err;
    }
  }
  const session = await client.http.login({
    username,
    password,
    deviceName: `parley chat on ${hostname()}`,
  });
  client.setToken(session.token);
  const me = session.user;
  print(`Logged in as ${escapeLine(me.displayName)} (@${escapeLine(me.username)}). /help lists commands.`);

  const names = new Map<string, string>([[me.id, me.displayName]]);
  let list: Conversation[] = [];
  let open: Conversation | null = null;
  /** The open conversation's oldest message shown (for /history) and newest known (for /read). */
  let oldest = 0;
  let newest = 0;
  /** A group I just left: the server's removal notice for it needs no second line. */
  let leftId: string | null = null;

  const who = (id: string) => (id === me.id ? 'you' : escapeLine(names.get(id) ?? id));
  /** Content as a line with its #seq (commands name messages by it); an event as what it did. */
  const line = (m: Message) => {
    const time = new Date(m.createdAt).toLocaleTimeString();
    if (m.kind !== 'text') return `${time} ${eventLine(m)}`;
    const reply = m.replyTo ? `(re #${m.replyTo.seq}) ` : '';
    const fwd = m.forwarded ? '(forwarded) ' : '';
    const files = m.deleted ? [] : (m.attachments ?? []);
    const caption = escapeText(m.text, '    ');
    const text = m.deleted
      ? '(deleted)'
      : [...files.map(attachmentLine), ...(caption === '' ? [] : [caption])].join(' ');
    const edited = m.editedAt !== undefined && !m.deleted ? ' (edited)' : '';
    const reactions = (m.reactions ?? []).map((r) => ` [${escapeLine(r.emoji)} ${r.count}]`).join('');
    return `${time} #${m.seq} ${who(m.senderId)}: ${reply}${fwd}${text}${edited}${reactions}`;
  };
  const eventLine = (m: Message) => {
    const t = `#${m.target ?? 0}`;
    const by = who(m.senderId);
    switch (m.kind) {
      case 'edit':
        return `${by} edited ${t}: ${escapeText(m.text, '    ')}`;
      case 'delete':
        return `${by} deleted ${t}`;
      case 'react':
        return `${by} reacted ${escapeLine(m.text)} to ${t}`;
      case 'unreact':
        return `${by} took back ${escapeLine(m.text)} from ${t}`;
      case 'pin':
        return `${by} pinned ${t}`;
      case 'unpin':
        return `${by} unpinned ${t}`;
      case 'hide':
        return `${by} deleted ${t} for themselves`;
      case 'save':
        return `${by} saved ${t}`;
      case 'unsave':
        return `${by} unsaved ${t}`;
      default:
        return `${by} acted on ${t}`;
    }
  };
  /** My reactions, by open conversation and seq, so /react can take one back. */
  const myReactions = new Set<string>();
  const reactionKey = (c: string, seq: number, emoji: string) => `${c} ${seq} ${emoji}`;
  const seqArg = (s: string | undefined) => {
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new Error('give a message number, as shown after # (e.g. 12)');
    return n;
  };
  const nameOf = (c: Conversation | undefined) => (c ? preview(c.name, 40) : 'new conversation');
  const errorText = (err: unknown) =>
    escapeLine(err instanceof ParleyError ? `${err.code}: ${err.message}` : String(err));

  async function learnMembers(c: Conversation) {
    for (const m of (await client.http.members(c.id)).members) names.set(m.userId, m.displayName);
  }
  function setOpen(c: Conversation | null) {
    open = c;
    screen.setPrompt(promptFor(c));
  }
  async function openConversation(c: Conversation) {
    list = [c, ...list.filter((x) => x.id !== c.id)];
    await learnMembers(c);
    setOpen(c);
    print(`-- ${escapeLine(c.name)} (${c.kind}, ${c.memberCount} members) --`);
    const page = await client.http.history(c.id, { limit: 20 });
    oldest = page.messages[0]?.seq ?? 0;
    newest = Math.max(c.lastSeq, page.messages.at(-1)?.seq ?? 0);
    for (const m of page.messages) print(line(m));
  }
  async function userByName(name: string) {
    const contacts = await client.http.contacts();
    const known = [...contacts.contacts.map((c) => c.user), ...contacts.blocked].find(
      (u) => u.username === name,
    );
    return known ?? (await client.http.getUser(name));
  }

  client.on('message', (m) => {
    // Every message arrives here once, mine from this terminal included: that is the one
    // line it gets (what was typed is erased).
    if (m.senderId === me.id && (m.kind === 'react' || m.kind === 'unreact') && m.target !== undefined) {
      const k = reactionKey(m.conversationId, m.target, m.text);
      if (m.kind === 'react') myReactions.add(k);
      else myReactions.delete(k);
    }
    if (open && m.conversationId === open.id) {
      newest = Math.max(newest, m.seq);
      print(line(m));
      return;
    }
    const c = list.find((x) => x.id === m.conversationId);
    if (c && names.has(m.senderId)) return print(`[${nameOf(c)}] ${line(m)}`);
    // A conversation this terminal has not seen yet (a new 1:1 starts with its first message).
    Promise.all([
      c ?? client.http.conversation(m.conversationId),
      client.http.members(m.conversationId),
    ]).then(
      ([conv, r]) => {
        for (const x of r.members) names.set(x.userId, x.displayName);
        if (!list.some((x) => x.id === conv.id)) list = [conv, ...list];
        print(`[${nameOf(conv)}] ${line(m)}`);
      },
      () => print(`[${nameOf(c)}] ${line(m)}`),
    );
  });
  client.on('conversation', (c) => {
    const known = list.some((x) => x.id === c.id);
    list = [c, ...list.filter((x) => x.id !== c.id)];
    if (c.left) {
      if (c.id === leftId) return;
      const by = c.left.by ? ` (removed by ${escapeLine(c.left.by.displayName)})` : '';
      print(`(you are no longer in "${escapeLine(c.name)}"${by})`);
      if (open?.id === c.id) setOpen(null);
      return;
    }
    if (open?.id === c.id) setOpen(c);
    if (known) return;
    // Told once its members are known; one this terminal opened itself is in the list by then.
    learnMembers(c)
      .catch(() => undefined)
      .then(() => {
        if (open?.id !== c.id) print(`(you are now in "${escapeLine(c.name)}")`);
      });
  });
  client.on('conversation_removed', ({ conversationId }) => {
    list = list.filter((x) => x.id !== conversationId);
    if (open?.id === conversationId) setOpen(null);
  });
  let quitting = false;
  client.on('state', (s) => {
    if (quitting) return;
    if (s === 'reconnecting') print('(connection lost; reconnecting…)');
    if (s === 'closed') print('(disconnected)');
  });
  client.on('error', (e) => print(`(error: ${escapeLine(`${e.code}: ${e.message}`)})`));
  // The prompt shows once messages arrive live (or after 10 s without the chat server).
  const live = new Promise<void>((resolve) => {
    client.once('synced', () => resolve());
    setTimeout(resolve, 10_000).unref();
  });
  client.connect();
  list = (await client.http.conversations()).conversations;
  await live;

  let quit = false;
  const commands: Record<ChatCommandName, (args: string[]) => Promise<void>> = {
    help: async () => print(`Commands:\n${chatHelp()}`),
    quit: async () => {
      quit = true;
    },
    list: async () => {
      list = (await client.http.conversations()).conversations;
      if (list.length === 0) print('No conversations yet: /dm <username> starts one.');
      list.forEach((c, i) => {
        const unread = c.left ? ' (left)' : c.unread > 0 ? ` (${c.unread} unread)` : '';
        const files = c.lastMessage?.attachments ?? [];
        const about = c.lastMessage
          ? `${files.map(attachmentLine).join(' ')} ${plainText(c.lastMessage.text)}`.trim()
          : '';
        const last = c.lastMessage ? ` — ${preview(about, 50)}` : '';
        print(`${i + 1}. ${escapeLine(c.name)}${unread}${last}`);
      });
    },
    open: async (args) => {
      // `/open Weekend trip` as well as `/open "Weekend trip"`.
      const target = args.join(' ');
      if (!target) return print('usage: /open <n|username|name>');
      if (list.length === 0) list = (await client.http.conversations()).conversations;
      const n = Number(target);
      const found = Number.isInteger(n)
        ? list[n - 1]
        : list.find((c) => c.name === target || c.peer?.username === target);
      await openConversation(found ?? (await client.http.direct({ username: target })));
    },
    dm: async ([user]) => {
      if (!user) return print('usage: /dm <username>');
      await openConversation(await client.http.direct({ username: user }));
    },
    group: async ([name, ...users]) => {
      if (!name || users.length === 0)
        return print('usage: /group <name> <user>...  (quote a name with spaces)');
      await openConversation(await client.http.createGroup({ name, members: users }));
    },
    add: async (users) => {
      if (!open) return print('open a group first');
      if (users.length === 0) return print('usage: /add <user>...');
      await client.http.addMembers(open.id, users);
      print(`added ${users.map(escapeLine).join(', ')}`);
    },
    members: async () => {
      if (!open) return print('open a conversation first');
      for (const m of (await client.http.members(open.id)).members)
        print(`${escapeLine(m.displayName)} (@${escapeLine(m.username)}) ${m.role}`);
    },
    leave: async () => {
      if (!open || open.kind !== 'group' || open.left) return print('open a group first');
      const c = open;
      leftId = c.id;
      await client.http.leave(c.id);
      setOpen(null);
      print(`(you left "${escapeLine(c.name)}")`);
    },
    history: async ([n]) => {
      if (!open) return print('open a conversation first');
      if (oldest <= 1) return print('(no older messages)');
      const page = await client.http.history(open.id, {
        before: oldest,
        limit: Math.min(Number(n ?? 20) || 20, 200),
      });
      oldest = page.messages[0]?.seq ?? oldest;
      for (const m of page.messages) print(line(m));
    },
    reply: async ([seq, ...words]) => {
      if (!open) return print('open a conversation first');
      const text = words.join(' ').trim();
      if (text === '') return print('usage: /reply <seq> <text>');
      await client.send(open.id, text, { replyTo: seqArg(seq) });
    },
    attach: async (args) => {
      if (!open) return print('open a conversation first');
      const target = open;
      const parsed = parseAttach(args);
      if (parsed === null) return print('usage: /attach <path> [caption]');
      const bytes = await readFile(parsed.path);
      const name = basename(parsed.path);
      print(`(uploading ${escapeLine(name)}, ${formatSize(bytes.byteLength)}…)`);
      const a = await client.http.upload(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
        name,
      });
      // Shown when the server sends it back as a message, like every other message.
      await client.send(target.id, parsed.caption, { attachments: [{ uploadId: a.id }] });
    },
    edit: async ([seq, ...words]) => {
      if (!open) return print('open a conversation first');
      const text = words.join(' ').trim();
      if (text === '') return print('usage: /edit <seq> <text>');
      await client.edit(open.id, seqArg(seq), text);
    },
    delete: async ([seq]) => {
      if (!open) return print('open a conversation first');
      await client.deleteForEveryone(open.id, seqArg(seq));
    },
    react: async ([seq, emoji]) => {
      if (!open) return print('open a conversation first');
      if (emoji === undefined || emoji === '') return print('usage: /react <seq> <emoji>');
      const n = seqArg(seq);
      if (myReactions.has(reactionKey(open.id, n, emoji))) await client.unreact(open.id, n, emoji);
      else await client.react(open.id, n, emoji);
    },
    read: async () => {
      if (!open) return print('open a conversation first');
      if (newest === 0) return print('(no messages)');
      await client.http.read(open.id, newest);
      print(`(marked "${escapeLine(open.name)}" read)`);
    },
    contacts: async () => {
      const c = await client.http.contacts();
      const user = (u: { displayName: string; username: string }) =>
        `${escapeLine(u.displayName)} (@${escapeLine(u.username)})`;
      if (c.contacts.length + c.incoming.length + c.outgoing.length + c.blocked.length === 0)
        return print('No contacts yet.');
      for (const x of c.contacts) print(`${user(x.user)} ${x.presence.online ? 'online' : 'offline'}`);
      for (const u of c.incoming) print(`${user(u)} asks to be your contact`);
      for (const u of c.outgoing) print(`${user(u)} has not answered your request yet`);
      for (const u of c.blocked) print(`${user(u)} blocked`);
    },
    block: async ([name]) => {
      if (!name) return print('usage: /block <username>');
      await client.http.block({ username: name });
      print(`(blocked @${escapeLine(name)})`);
    },
    unblock: async ([name]) => {
      if (!name) return print('usage: /unblock <username>');
      await client.http.unblock((await userByName(name)).id);
      print(`(unblocked @${escapeLine(name)})`);
    },
  };

  if (tty) {
    const rl = createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: true,
      prompt: '> ',
    });
    rl.on('close', () => lines.close());
    screen.attach(rl);
    /** How many rows the line being entered takes on screen, measured just before Enter. */
    let enteredRows = 1;
    // Before readline sees the key: it clears its line on Enter.
    process.stdin.prependListener('keypress', (s: string | undefined, key: Key | undefined) => {
      if (key?.name === 'return' || key?.name === 'enter') {
        rl.write(null, { ctrl: true, name: 'e' });
        enteredRows = rl.getCursorPos().rows + 1;
      } else if (open && s !== undefined && s >= ' ' && !key?.ctrl && !key?.meta) client.typing(open.id);
    });
    rl.on('line', (input) => {
      if (open && input.trim() !== '' && !input.startsWith('/')) screen.eraseEntered(enteredRows);
      lines.push(input);
      rl.prompt();
    });
    rl.on('SIGINT', () => rl.close());
    rl.prompt();
  }

  for (;;) {
    const input = await lines.next();
    if (input === null) break;
    try {
      if (input.trim() === '') continue;
      if (input.startsWith('/')) {
        const [cmd = '', ...args] = splitArgs(input.slice(1));
        const run = Object.hasOwn(commands, cmd) ? commands[cmd as ChatCommandName] : undefined;
        if (run) await run(args);
        else print(`unknown command /${escapeLine(cmd)}; /help lists commands`);
        if (quit) break;
        continue;
      }
      // Commands change it while this loop awaits them, which the compiler cannot see.
      const target = open as Conversation | null;
      if (!target) {
        print('(not sent: open a conversation first, with /list, /open or /dm)');
        continue;
      }
      // Shown when the server sends it back as a message, like every other message.
      await client.send(target.id, input.trim());
    } catch (err) {
      print(`(${errorText(err)})`);
    }
  }
  quitting = true;
  screen.close();
  rl?.close();
  client.close();
}
