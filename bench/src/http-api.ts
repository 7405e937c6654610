/**
 * A small JSON client for the routes of @parley/protocol's `Routes`, used to seed users and
 * conversations and to read history pages. Keep-alive connections, bounded by the agent.
 */
import { Agent, request } from 'node:http';
import type { Conversation, HistoryPage, SearchPage, Session, User } from '@parley/protocol';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiOptions {
  /** Most simultaneous HTTP connections. Default 64. */
  maxSockets?: number;
}

export class HttpApi {
  private readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string, opts: ApiOptions = {}) {
    const u = new URL(baseUrl);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64 });
  }

  /** One request; network errors and 503s are retried twice. */
  async call<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(method, path, body, token);
      } catch (err) {
        const retryable = !(err instanceof ApiError) || err.status === 503;
        if (!retryable || attempt >= 2) throw err;
        await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
      }
    }
  }

  private once<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (token) headers.authorization = `Bearer ${token}`;
    return new Promise<T>((resolve, reject) => {
      const req = request(
        { host: this.host, port: this.port, method, path, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            const status = res.statusCode ?? 0;
            let json: unknown;
            try {
              json = text.length > 0 ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            if (status >= 200 && status < 300) return resolve(json as T);
            const e = (json ?? {}) as { code?: string; message?: string };
            reject(
              new ApiError(
                status,
                e.code ?? 'http_error',
                `${method} ${path}: ${status} ${e.message ?? text}`,
              ),
            );
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  signup(username: string, password: string): Promise<User> {
    return this.call<User>('POST', '/v1/users', { username, password });
  }

  login(username: string, password: string, deviceName: string): Promise<Session> {
    return this.call<Session>('POST', '/v1/sessions', { username, password, deviceName });
  }

  /** Let anyone message me without a request and add me to groups, as before consent settings. */
  openToAll(token: string): Promise<unknown> {
    return this.call('PATCH', '/v1/me/privacy', { directMessages: 'everyone', groupAdds: 'everyone' }, token);
  }

  direct(token: string, username: string): Promise<Conversation> {
    return this.call<Conversation>('POST', '/v1/conversations/direct', { username }, token);
  }

  group(token: string, name: string, members: string[]): Promise<Conversation> {
    return this.call<Conversation>('POST', '/v1/conversations/groups', { name, members }, token);
  }

  history(token: string, conversationId: string, before: number | null, limit: number): Promise<HistoryPage> {
    const q = before === null ? `limit=${limit}` : `before=${before}&limit=${limit}`;
    return this.call<HistoryPage>(
      'GET',
      `/v1/conversations/${encodeURIComponent(conversationId)}/messages?${q}`,
      undefined,
      token,
    );
  }

  search(token: string, query: string, conversationId?: string): Promise<SearchPage> {
    const q = `q=${encodeURIComponent(query)}${conversationId ? `&conversation=${encodeURIComponent(conversationId)}` : ''}`;
    return this.call<SearchPage>('GET', `/v1/search?${q}`, undefined, token);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Run `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

/** A seeded account: one user and one logged-in device. */
export interface Account {
  username: string;
  userId: string;
  token: string;
}

export const BENCH_PASSWORD = 'bench-password';

/** A username prefix unique to this run, so runs against one `--target` never collide. */
export function runPrefix(): string {
  return `b${Math.random().toString(36).slice(2, 8)}_`;
}

/**
 * Sign up `n` users named `${prefix}${i}` and log each in on `devices` devices. Returns
 * `n × devices` accounts, user-major.
 */
export async function seedAccounts(
  api: HttpApi,
  prefix: string,
  n: number,
  devices = 1,
  concurrency = 64,
): Promise<Account[]> {
  const names = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const users = await mapLimit(names, concurrency, (u) => api.signup(u, BENCH_PASSWORD));
  const logins = names.flatMap((u, i) => Array.from({ length: devices }, (_, d) => ({ u, i, d })));
  return mapLimit(logins, concurrency, async ({ u, i, d }) => {
    const s = await api.login(u, BENCH_PASSWORD, `bench ${d}`);
    // Strangers chat and group freely in every scenario, as they did before message requests.
    if (d === 0) await api.openToAll(s.token);
    return { username: u, userId: (users[i] as User).id, token: s.token };
  });
}
