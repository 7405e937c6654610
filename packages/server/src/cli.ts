#!/usr/bin/env node
/**
 * `parley`: serve | user add | chat. Every server option (config.ts) can be given as a flag
 * (`--heartbeat-ms 5000`) or an env var (`PARLEY_HEARTBEAT_MS=5000`); PORT, HOST and
 * LOG_LEVEL are also read as is. Any env var `X` can be given as `X_FILE`, the path of a file
 * holding the value (for secrets: they then show in no process listing or environment).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { createParley } from './app.js';
import { chatHelp } from './cli/chat-commands.js';
import { DEFAULT_CONFIG, envName, kebab, readConfig } from './config.js';
import { AuthService } from './auth/auth-service.js';
import { scryptHasher } from './auth/passwords.js';
import { MemoryBus } from './bus/memory/memory-bus.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';

const USAGE = `Usage:
  parley serve [--port 8080] [--host 127.0.0.1] [--data-dir ./data] [--<option> value ...]
  parley user add <username> [--display-name NAME] [--data-dir ./data]   (password from PARLEY_PASSWORD or prompt)
  parley chat [--url http://localhost:8080] [--username NAME] [--signup]   (password from PARLEY_PASSWORD or prompt)
  parley cluster [--chat 3] [--shards 1] [--base-port 8080] [--db postgres://…] [--redis redis://…]
  parley backup --to FILE [--data-dir ./data]   (online: a consistent copy while the server runs)
  parley restore --from FILE --data-dir DIR [--force]   (the server on DIR must be stopped)
  parley serve --role api|chat|all --db postgres://… --redis redis://…   (cluster mode)

Commands of parley chat:
${chatHelp()}

Server options (flag / env var, default; any env var X may be X_FILE, a file holding the value):
${Object.entries(DEFAULT_CONFIG)
  // An empty default reads as 'none'.
  .map(([k, v]) => `  --${kebab(k)} / ${envName(k)} (${String(v) === '' ? 'none' : String(v)})`)
  .join('\n')}
`;

async function serve(argv: string[]): Promise<void> {
  const parley = await createParley(readConfig(argv, process.env));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    parley.lifecycle.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      parley.log.warn('shutdown timed out; exiting');
      process.exit(1);
    }, parley.config.shutdownTimeoutMs);
    timer.unref();
    parley.close().then(
      () => process.exit(0),
      (err: unknown) => {
        parley.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await parley.listen();
}

/**
 * The new user's password, taken as typed (spaces are part of it, as over HTTP): on a
 * terminal with nothing shown, twice; otherwise the first line of stdin.
 */
async function askPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    const { readHidden } = await import('./cli/password-prompt.js');
    const password = await readHidden('Password: ', process.stdin, process.stderr);
    if ((await readHidden('Password again: ', process.stdin, process.stderr)) !== password)
      throw new Error('the passwords differ');
    return password;
  }
  const rl = createInterface({ input: process.stdin, terminal: false });
  const line = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  return line;
}

async function userAdd(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'display-name': { type: 'string' },
      'data-dir': { type: 'string' },
      'scrypt-log-n': { type: 'string' },
    },
    allowPositionals: true,
  });
  const username = positionals[0];
  if (!username) throw new Error('usage: parley user add <username> [--display-name NAME]');
  const password = process.env.PARLEY_PASSWORD || (await askPassword());
  const dataDir = values['data-dir'] ?? process.env.PARLEY_DATA_DIR ?? DEFAULT_CONFIG.dataDir;
  const store = new SqliteStore({ path: join(dataDir, 'parley.db') });
  try {
    const logN = Number(
      values['scrypt-log-n'] ?? process.env.PARLEY_SCRYPT_LOG_N ?? DEFAULT_CONFIG.scryptLogN,
    );
    const auth = new AuthService(store.accounts, scryptHasher(logN), new MemoryBus());
    const user = await auth.signup(username, password, values['display-name']);
    process.stdout.write(`${JSON.stringify(user)}\n`);
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'serve':
    case undefined:
      return serve(rest);
    case 'user':
      if (rest[0] === 'add') return userAdd(rest.slice(1));
      break;
    case 'chat': {
      const { chat } = await import('./cli/chat.js');
      return chat(rest);
    }
    case 'cluster': {
      const { cluster } = await import('./cli/cluster.js');
      return cluster(rest);
    }
    case 'backup':
    case 'restore': {
      const commands = await import('./cli/backup.js');
      return commands[cmd](rest);
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
  }
  process.stderr.write(USAGE);
  process.exitCode = 2;
}

main().catch((err: unknown) => {
  process.stderr.write(`parley: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
