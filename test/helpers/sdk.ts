/** SDK clients for integration tests (Node: `ws` as the WebSocket). */
import WebSocket from 'ws';
import { ParleyClient, ParleyHttp } from '@parley/client';
import type { Message, ParleyClientOptions, Session, WebSocketConstructor } from '@parley/client';
import { uname } from './raw.js';

export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

export interface TestUser {
  session: Session;
  http: ParleyHttp;
  username: string;
  id: string;
}

/** Sign up a new user and log in one device. */
export async function newUser(
  url: string,
  username = uname(),
  deviceName = 'test device',
): Promise<TestUser> {
  const http = new ParleyHttp({ baseUrl: url });
  await http.signup({ username, password: 'password123' });
  const session = await http.login({ username, password: 'password123', deviceName });
  http.setToken(session.token);
  return { session, http, username, id: session.user.id };
}

/** Log in another device of an existing user. */
export async function newDevice(
  url: string,
  username: string,
  deviceName = 'another device',
): Promise<TestUser> {
  const http = new ParleyHttp({ baseUrl: url });
  const session = await http.login({ username, password: 'password123', deviceName });
  http.setToken(session.token);
  return { session, http, username, id: session.user.id };
}

/** A client that records every message it is given. */
export class Recorder {
  readonly messages: Message[] = [];
  readonly client: ParleyClient;
  constructor(url: string, token: string, opts: Partial<ParleyClientOptions> = {}) {
    this.client = new ParleyClient({
      url,
      token,
      WebSocket: NodeWebSocket,
      reconnect: { baseDelayMs: 50, maxDelayMs: 500 },
      ...opts,
    });
    this.client.on('message', (m) => this.messages.push(m));
  }
  /** Connect and wait until catch-up is done. */
  async start(): Promise<this> {
    const synced = new Promise<void>((resolve) => this.client.once('synced', () => resolve()));
    this.client.connect();
    await synced;
    return this;
  }
  inConversation(conversationId: string): Message[] {
    return this.messages.filter((m) => m.conversationId === conversationId);
  }
  stop(): void {
    this.client.close();
  }
}

/** Poll until `check` returns true, or fail after `timeoutMs` with `what`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for: ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Make two users contacts (`a` asks, `b` accepts): they may then message and group each other freely. */
export async function makeContacts(a: TestUser, b: TestUser): Promise<void> {
  await a.http.requestContact({ userId: b.id });
  await b.http.acceptContact(a.id);
}

/**
 * Let anyone message `user` without a request and add them to groups (privacy `everyone`),
 * for tests about something else that have strangers talk.
 */
export async function openToAll(...users: TestUser[]): Promise<void> {
  for (const u of users) await u.http.setPrivacy({ directMessages: 'everyone', groupAdds: 'everyone' });
}
