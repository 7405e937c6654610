/**
 * Seeding messages fast: a few WebSocket connections in the coordinator, each sending its
 * share with a large window of unacked sends (the server commits them in batches). These
 * connections never `sync`, so the server does not deliver to them.
 */
import { BenchSocket } from '../bench-socket.js';
import { now } from '../clock.js';

export interface BlastJob {
  token: string;
  conversationIds: string[];
  /** Messages to send to each conversation. */
  perConv: number;
}

export async function blast(
  url: string,
  jobs: readonly BlastJob[],
  opts: { window: number; textChars: number; log?: (msg: string) => void },
): Promise<{ sent: number; seconds: number }> {
  const t0 = now();
  const total = jobs.reduce((n, j) => n + j.perConv * j.conversationIds.length, 0);
  let acked = 0;
  let lastLog = t0;
  const pad = 'x'.repeat(Math.max(1, opts.textChars - 12));
  await Promise.all(
    jobs.map(async (job, j) => {
      const { socket } = await BenchSocket.open({ url, token: job.token });
      const jobTotal = job.perConv * job.conversationIds.length;
      let sent = 0;
      let done = 0;
      await new Promise<void>((resolve, reject) => {
        const sendNext = (): void => {
          if (sent >= jobTotal) return;
          const conv = job.conversationIds[sent % job.conversationIds.length] as string;
          socket.sendRaw(
            JSON.stringify({
              type: 'send',
              conversationId: conv,
              clientId: `seed-${j}-${sent}`,
              text: `seed ${sent} ${pad}`,
            }),
          );
          sent++;
        };
        socket.onFrame = (f) => {
          if (f.type === 'ack') {
            done++;
            acked++;
            if (done === jobTotal) return resolve();
            sendNext();
            const t = now();
            if (opts.log && t - lastLog > 5000) {
              lastLog = t;
              opts.log(`seeded ${acked} of ${total} messages (${Math.round((acked / (t - t0)) * 1000)}/s)`);
            }
          } else if (f.type === 'error') {
            reject(new Error(`seeding failed: ${f.code} ${f.message}`));
          }
        };
        socket.onClose = (code) => reject(new Error(`seeding socket closed (${code})`));
        if (jobTotal === 0) return resolve();
        for (let k = 0; k < opts.window; k++) sendNext();
      });
      socket.onClose = () => {};
      socket.close();
    }),
  );
  return { sent: acked, seconds: (now() - t0) / 1000 };
}
