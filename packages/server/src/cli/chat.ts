/**
 * `parley chat`: a small terminal client built on the SDK, for trying Parley without a
 * browser. Log in, list conversations, open one, read history, send, see new messages live.
 */
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { createInterface as createPromptInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { ParleyClient, ParleyError } from '@parley/client';
import type { Conversation, Message, WebSocketConstructor } from '@parley/client';
import { readHidden } from './password-prompt.js';
import { escapeLine, escapeText, preview } from './terminal-text.js';

const HELP = `Commands:
  /list                     your conversations (latest first)
  /open <n|username|name>   open a conversation from the list, or a 1:1 with a user
  /dm <username>            start (or open) a 1:1
  /group <name> <user> ...  create a group
  /add <user> ...           add members to the open group (admins)
  /members                  members of the open conversation
  /history [n]              show n older messages (default 20)
  /signup                   create the account first, then log in
  /quit                     exit
Anything else is sent to the open conversation.`;

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
  const tty = Boolean(process.stdin.isTTY);
  let username = values.username;
  let password = process.env.PARLEY_PASSWORD || undefined;
  if (tty) {
    // The password is read with echo off, before any readline echoes what is typed.
    if (username === undefined) {
      const question = createPromptInterface({
        input: process.stdin,
        output: process.stdout,
        terminal: true,
      });
      username = await question.question('Username: ');
      question.close();
    }
    password ??= await readHidden('Password: ', process.stdin, process.stdout);
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty });
  const lines = rl[Symbol.asyncIterator]();
  const ask = async (q: string): Promise<string> => {
    process.stdout.write(q);
    const r = await lines.next();
    if (r.done) throw new Error('input closed');
    return r.value;
  };
  const print = (s: string): void => {
    process.stdout.write(`${s}\n`);
  };

  username = (username ?? (await ask('Username: '))).trim();
  // Taken as typed: spaces are part of a password.
  password ??= await ask('Password: ');
  const client = new ParleyClient({ url, WebSocket: WebSocket as unknown as WebSocketConstructor });
  if (values.signup) {
    try {
      await client.http.signup({ username, password });
    } catch (err) {
      if (!(err instanceof ParleyError && err.code === 'username_taken')) throw err;
    }
  }
  const session = await client.http.login({ username, password, deviceName: `parley chat on ${hostname()}` });
  client.setToken(session.token);
  print(
    `Logged in as ${escapeLine(session.user.displayName)} (@${escapeLine(session.user.username)}). /help lists commands.`,
  );

  const names = new Map<string, string>([[session.user.id, session.user.displayName]]);
  let list: Conversation[] = [];
  let open: Conversation | null = null;
  let oldest = 0;

  const who = (id: string) => (id === session.user.id ? 'you' : escapeLine(names.get(id) ?? id));
  const line = (m: Message) =>
    `${new Date(m.createdAt).toLocaleTimeString()} ${who(m.senderId)}: ${escapeText(m.text, '    ')}`;
  async function learnMembers(c: Conversation) {
    for (const m of (await client.http.members(c.id)).members) names.set(m.userId, m.displayName);
  }
  async function openConversation(c: Conversation) {
    open = c;
    await learnMembers(c);
    print(`-- ${escapeLine(c.name)} (${c.kind}, ${c.memberCount} members) --`);
    const page = await client.http.history(c.id, { limit: 20 });
    oldest = page.messages[0]?.seq ?? 0;
    for (const m of page.messages) print(line(m));
    if (c.lastSeq > 0) client.markRead(c.id, c.lastSeq);
  }

  client.on('message', (m) => {
    if (open && m.conversationId === open.id) {
      if (m.senderId !== session.user.id) print(line(m));
      client.markRead(m.conversationId, m.seq);
    } else if (m.senderId !== session.user.id) {
      const c = list.find((x) => x.id === m.conversationId);
      const show = () => print(`[${c ? preview(c.name, 40) : 'new conversation'}] ${line(m)}`);
      if (names.has(m.senderId)) show();
      else
        client.http.members(m.conversationId).then((r) => {
          for (const x of r.members) names.set(x.userId, x.displayName);
          show();
        }, show);
    }
  });
  client.on('conversation', (c) => {
    learnMembers(c).catch(() => undefined);
    if (!list.some((x) => x.id === c.id)) print(`(you are now in "${escapeLine(c.name)}")`);
    list = [c, ...list.filter((x) => x.id !== c.id)];
  });
  client.on('state', (s) => {
    if (s === 'reconnecting') print('(connection lost; reconnecting…)');
    if (s === 'closed') print('(disconnected)');
  });
  client.on('error', (e) => print(`(error: ${escapeLine(`${e.code}: ${e.message}`)})`));
  client.connect();

  const commands: Record<string, (args: string[]) => Promise<void>> = {
    help: async () => print(HELP),
    list: async () => {
      list = (await client.http.conversations()).conversations;
      if (list.length === 0) print('No conversations yet: /dm <username> starts one.');
      list.forEach((c, i) => {
        const unread = c.unread > 0 ? ` (${c.unread} unread)` : '';
        const last = c.lastMessage ? ` — ${preview(c.lastMessage.text, 50)}` : '';
        print(`${i + 1}. ${escapeLine(c.name)}${unread}${last}`);
      });
    },
    open: async ([target]) => {
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
      if (!name || users.length === 0) return print('usage: /group <name> <user> ...');
      await openConversation(await client.http.createGroup({ name, members: users }));
    },
    add: async (users) => {
      if (!open) return print('open a group first');
      await client.http.addMembers(open.id, users);
      print(`added ${users.map(escapeLine).join(', ')}`);
    },
    members: async () => {
      if (!open) return print('open a conversation first');
      for (const m of (await client.http.members(open.id)).members)
        print(`${escapeLine(m.displayName)} (@${escapeLine(m.username)}) ${m.role}`);
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
  };

  for (;;) {
    const r = await lines.next();
    if (r.done) break;
    const input = r.value.trim();
    if (input === '') continue;
    try {
      if (input === '/quit' || input === '/exit') break;
      if (input.startsWith('/')) {
        const [cmd, ...args] = input.slice(1).split(/\s+/);
        const run = commands[cmd ?? ''];
        if (run) await run(args);
        else print(`unknown command /${escapeLine(cmd ?? '')}; /help lists commands`);
        continue;
      }
      if (!open) {
        print('open a conversation first (/list, /open, /dm)');
        continue;
      }
      const target: Conversation = open;
      const ack = await client.send(target.id, input);
      print(`${new Date(ack.createdAt).toLocaleTimeString()} you: ${input}`);
    } catch (err) {
      print(`(${escapeLine(err instanceof ParleyError ? `${err.code}: ${err.message}` : String(err))})`);
    }
  }
  rl.close();
  client.close();
}
