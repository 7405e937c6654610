/**
 * A canary pair: two SDK clients, contacts of each other, chatting in their direct
 * conversation while a test does something rough to the server. At the end every message
 * must be acked and delivered to the other side.
 */
import { api } from './raw.js';
import { Recorder, eventually, newUser } from './sdk.js';

export interface CanaryReport {
  sent: number;
  acked: number;
  delivered: number;
}

export class Canary {
  private timer: NodeJS.Timeout | undefined;
  private readonly sends: Promise<unknown>[] = [];
  private readonly texts: { from: 0 | 1; text: string }[] = [];
  private acked = 0;
  private failed: string[] = [];

  private constructor(
    private readonly a: Recorder,
    private readonly b: Recorder,
    private readonly conversationId: string,
  ) {}

  /** Two new users, contacts, connected with the SDK and in sync. */
  static async start(url: string): Promise<Canary> {
    const [ua, ub] = await Promise.all([newUser(url), newUser(url)]);
    await api(url, 'POST', '/v1/contacts', { userId: ub.id }, ua.session.token);
    await api(url, 'POST', `/v1/contacts/${ua.id}/accept`, undefined, ub.session.token);
    const conv = await ua.http.direct({ userId: ub.id });
    const [a, b] = await Promise.all([
      new Recorder(url, ua.session.token).start(),
      new Recorder(url, ub.session.token).start(),
    ]);
    return new Canary(a, b, conv.id);
  }

  /** Send one message every `everyMs`, the two sides in turn. */
  chat(everyMs = 100): void {
    let n = 0;
    this.timer = setInterval(() => {
      const from = (n % 2) as 0 | 1;
      const text = `canary ${n++}`;
      this.texts.push({ from, text });
      const client = (from === 0 ? this.a : this.b).client;
      this.sends.push(
        client.send(this.conversationId, text).then(
          () => this.acked++,
          (err: unknown) => this.failed.push(`${text}: ${String(err)}`),
        ),
      );
    }, everyMs);
  }

  /**
   * Stop sending and wait until every message is acked and has reached the other side.
   * Throws if any send failed or did not arrive within `timeoutMs`.
   */
  async finish(timeoutMs = 30_000): Promise<CanaryReport> {
    clearInterval(this.timer);
    await Promise.all(this.sends);
    if (this.failed.length > 0) throw new Error(`canary sends failed: ${this.failed.slice(0, 5).join('; ')}`);
    const arrived = () =>
      this.texts.filter(({ from, text }) =>
        (from === 0 ? this.b : this.a).inConversation(this.conversationId).some((m) => m.text === text),
      ).length;
    await eventually(
      () => arrived() === this.texts.length,
      () => `canary messages delivered: ${arrived()}/${this.texts.length}`,
      timeoutMs,
    );
    return { sent: this.texts.length, acked: this.acked, delivered: arrived() };
  }

  stop(): void {
    clearInterval(this.timer);
    this.a.stop();
    this.b.stop();
  }
}
