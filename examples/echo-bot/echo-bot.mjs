// @ts-check
/**
 * An echo bot: answers every message anyone sends it with "echo: <text>", in the same
 * conversation. Run it with a Parley account of its own:
 *
 *   npm run parley -- user add echo          # once, on the server
 *   PARLEY_USERNAME=echo PARLEY_PASSWORD=… node examples/echo-bot/echo-bot.mjs
 *
 * Settings (environment):
 *   PARLEY_URL        the server, default http://localhost:8080
 *   PARLEY_USERNAME   the bot's account (required)
 *   PARLEY_PASSWORD   its password (required the first time)
 *   ECHO_BOT_STATE    where it keeps its session token and feed cursor between runs,
 *                     default ./echo-bot-state.json
 *
 * It logs in once and keeps the token, and it saves its feed cursor after each message it
 * has answered, so a restart answers what arrived while it was down, and answers nothing
 * twice: each echo's clientId is derived from the message's id, and the server stores a
 * clientId once.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { ParleyClient, ParleyHttp } from '@parley/client';

const url = process.env.PARLEY_URL ?? 'http://localhost:8080';
const username = process.env.PARLEY_USERNAME;
const password = process.env.PARLEY_PASSWORD;
const stateFile = process.env.ECHO_BOT_STATE ?? 'echo-bot-state.json';

/** @typedef {{ token: string; userId: string; cursor: string | number | null }} State */

/** @returns {State | undefined} */
function loadState() {
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Write the whole state to a new file, then rename: a crash never leaves half a file. @param {State} state */
function saveState(state) {
  writeFileSync(`${stateFile}.tmp`, JSON.stringify(state), { mode: 0o600 });
  renameSync(`${stateFile}.tmp`, stateFile);
}

let state = loadState();
if (state === undefined) {
  if (username === undefined || password === undefined) {
    console.error('echo-bot: set PARLEY_USERNAME and PARLEY_PASSWORD (see the top of echo-bot.mjs)');
    process.exit(2);
  }
  const session = await new ParleyHttp({ baseUrl: url }).login({
    username,
    password,
    deviceName: 'echo bot',
  });
  state = { token: session.token, userId: session.user.id, cursor: null };
  saveState(state);
}
const me = state;

const client = new ParleyClient({
  url,
  token: me.token,
  // Node 20 has no WebSocket of its own; browsers and Node 22 need no option here.
  WebSocket,
  // null: from now on (a first run answers nothing older); a saved cursor: everything after it
  // (a number saved by an older version of the bot is a cursor too).
  since: me.cursor,
});

// Messages are handled one after another, so the saved cursor only moves past a message once it
// has been answered.
let queue = Promise.resolve();

client.on('message', (message) => {
  // The client's cursor right after this message (it moves on as more arrive).
  const cursor = client.cursor;
  queue = queue.then(async () => {
    if (message.senderId !== me.userId) {
      try {
        await client.send(message.conversationId, `echo: ${message.text}`, {
          clientId: `echo-${message.id}`,
        });
      } catch (err) {
        // Not retryable (e.g. the echo would be too long, or the bot left the group): skip it.
        console.error(`echo-bot: could not answer message ${message.id}: ${String(err)}`);
      }
    }
    me.cursor = cursor;
    saveState(me);
  });
});

client.on('synced', ({ cursor }) => {
  queue = queue.then(() => {
    // Taken as is, even when behind the saved one: the server's data went back to an older
    // backup, and keeping a cursor past its head would skip what arrives next.
    me.cursor = cursor;
    saveState(me);
    console.log(`echo-bot: ready at cursor ${cursor}`);
  });
});

client.on('state', (s) => {
  if (s === 'reconnecting') console.log('echo-bot: connection lost, reconnecting');
});

client.on('error', (err) => {
  if (client.state !== 'closed') return;
  // The token was revoked (or the device logged out): a new login needs the password again.
  console.error(`echo-bot: ${err.message}; remove ${stateFile} to log in again`);
  process.exit(1);
});

for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    client.close();
    process.exit(0);
  });
}

client.connect();
