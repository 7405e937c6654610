/** examples/echo-bot runs against a real server: it answers, and after a restart it answers what it missed. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { Recorder, eventually, newUser } from '../helpers/sdk.js';

const BOT = join(ROOT, 'examples/echo-bot/echo-bot.mjs');

interface Bot {
  proc: ChildProcess;
  output(): string;
  /** Wait until the bot has printed `n` ready lines in all. */
  ready(n?: number): Promise<void>;
  stop(): Promise<void>;
}

function startBot(env: NodeJS.ProcessEnv): Bot {
  const proc = spawn(process.execPath, [BOT], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    output: () => out,
    ready: (n = 1) =>
      eventually(
        () => out.split('\n').filter((l) => l.startsWith('echo-bot: ready')).length >= n,
        () => `the bot to be ready:\n${out}`,
      ),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

let server: ServerHandle;
const stateDir = mkdtempSync(join(tmpdir(), 'parley-echo-bot-'));

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.stop();
  server.cleanup();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('examples/echo-bot', () => {
  it('echoes a message, and after a restart echoes what came while it was down, once', async () => {
    const botUser = await newUser(server.url);
    const bob = await newUser(server.url);
    const state = join(stateDir, 'state.json');
    const conversation = await bob.http.direct({ username: botUser.username });
    const recorder = await new Recorder(server.url, bob.session.token).start();
    const echoes = () =>
      recorder
        .inConversation(conversation.id)
        .filter((m) => m.senderId === botUser.id)
        .map((m) => m.text);

    const bot = startBot({
      PARLEY_URL: server.url,
      PARLEY_USERNAME: botUser.username,
      PARLEY_PASSWORD: 'password123',
      ECHO_BOT_STATE: state,
    });
    try {
      await bot.ready();
      await recorder.client.send(conversation.id, 'hello');
      await eventually(
        () => echoes().includes('echo: hello'),
        () => `the echo:\n${bot.output()}`,
      );
    } finally {
      await bot.stop();
    }

    await bob.http.send(conversation.id, { clientId: 'while-away', text: 'while you were away' });
    // No password this time: the bot keeps its token and its feed cursor in the state file.
    const again = startBot({ PARLEY_URL: server.url, ECHO_BOT_STATE: state });
    try {
      await again.ready();
      await eventually(
        () => echoes().includes('echo: while you were away'),
        () => `the echo after the restart:\n${again.output()}`,
      );
      expect(echoes()).toEqual(['echo: hello', 'echo: while you were away']);
    } finally {
      await again.stop();
      recorder.stop();
    }
  });
});
