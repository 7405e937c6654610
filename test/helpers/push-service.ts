/**
 * Stand-ins for the push services, on loopback, checking what a real one would:
 *
 * - Web Push (RFC 8030): a push service that hands out subscriptions (the test makes each
 *   one's ECDH P-256 key pair and auth secret, as a browser does), verifies the VAPID JWT of
 *   every request (RFC 8292: ES256 with the `k` key, `aud` the endpoint's origin, `exp` in the
 *   future, `sub` present) and decrypts the payload (RFC 8291 with the aes128gcm record of
 *   RFC 8188), written here with node:crypto so the server's library is checked end to end.
 * - FCM HTTP v1: an OAuth2 token endpoint that verifies the service account's RS256 JWT, and
 *   `messages:send` that accepts only the token it issued.
 * - APNs: HTTP/2 without TLS (h2c) that verifies the provider token (ES256 JWT with kid/iss)
 *   and the apns-* headers.
 *
 * Each can be told to answer the next requests for a subscription or token with given
 * statuses (503 with Retry-After, 410, ...); otherwise it accepts.
 */
import {
  createECDH,
  createHmac,
  createDecipheriv,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  verify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createH2Server, constants as h2 } from 'node:http2';
import type { Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { PushPayload } from '@parley/protocol';

// ---- JWT ----

interface Jwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

/** Verify a compact JWS with `alg` and the key; throws with the reason when it does not hold. */
export function verifyJwt(token: string, alg: 'ES256' | 'RS256', key: KeyObject): Jwt {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('JWT must have 3 parts');
  const [h, c, s] = parts as [string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
  const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown>;
  if (header.alg !== alg) throw new Error(`JWT alg ${String(header.alg)}, want ${alg}`);
  const ok = verify(
    'sha256',
    Buffer.from(`${h}.${c}`),
    alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key,
    Buffer.from(s, 'base64url'),
  );
  if (!ok) throw new Error('JWT signature does not verify');
  return { header, claims };
}

/** A P-256 public key (uncompressed point, 65 bytes) as a KeyObject. */
export function p256PublicKey(point: Buffer): KeyObject {
  if (point.length !== 65 || point[0] !== 4) throw new Error('not an uncompressed P-256 point');
  return createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33, 65).toString('base64url'),
    },
    format: 'jwk',
  });
}

// ---- RFC 8291 decryption ----

const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();

/** HKDF (RFC 5869) with one block of output, which is all RFC 8291 needs. */
function hkdf(salt: Buffer, ikm: Buffer, info: Buffer, length: number): Buffer {
  const prk = hmac(salt, ikm);
  return hmac(prk, Buffer.concat([info, Buffer.from([1])])).subarray(0, length);
}

/**
 * Decrypt a Web Push message (RFC 8291 §3.4, RFC 8188 §2): header salt(16) rs(4) idlen(1)
 * keyid (the sender's ephemeral public key), then records of `rs` bytes, each AES-128-GCM
 * with the nonce XORed with its sequence number and ending in a 0x02 (last) or 0x01 delimiter
 * before zero padding.
 */
export function decryptWebPush(
  body: Buffer,
  uaPrivate: ReturnType<typeof createECDH>,
  authSecret: Buffer,
): Buffer {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20] ?? 0;
  const asPublic = body.subarray(21, 21 + idlen);
  const records = body.subarray(21 + idlen);
  if (rs < 18) throw new Error('record size too small');
  const uaPublic = uaPrivate.getPublicKey();
  const ecdhSecret = uaPrivate.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = hkdf(authSecret, ecdhSecret, keyInfo, 32);
  const cek = hkdf(salt, ikm, Buffer.from('Content-Encoding: aes128gcm\0'), 16);
  const nonce = hkdf(salt, ikm, Buffer.from('Content-Encoding: nonce\0'), 12);
  const out: Buffer[] = [];
  for (let seq = 0, at = 0; at < records.length; seq++, at += rs) {
    const record = records.subarray(at, at + rs);
    const iv = Buffer.from(nonce);
    // The sequence number XORed into the low bytes (RFC 8188 §2.3); records here are few.
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ seq) >>> 0, 8);
    const decipher = createDecipheriv('aes-128-gcm', cek, iv);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    const delimiter = plain[end];
    const last = at + rs >= records.length;
    if (delimiter !== (last ? 2 : 1)) throw new Error(`bad record delimiter ${String(delimiter)}`);
    out.push(plain.subarray(0, end));
  }
  return Buffer.concat(out);
}

// ---- shared ----

/** A scripted answer: status, headers, body. */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Instead of `body`: this many zero bytes, written as the client reads them. */
  bodyBytes?: number;
  /** Instead of `body`: this many zero bytes gzipped, sent with `content-encoding: gzip` (a gzip bomb). */
  gzipBytes?: number;
  /** Never answer (until the stand-in closes). */
  hang?: boolean;
}

/** Requests a stand-in took, accepted or not. */
export interface Attempt {
  /** Subscription id (Web Push) or device token (FCM, APNs). */
  target: string;
  status: number;
  at: number;
  /** The request's Accept-Encoding. */
  acceptEncoding: string | undefined;
}

/** Write `bytes` zero bytes as the client takes them; false when the client left first. */
async function writeZeros(res: ServerResponse, bytes: number): Promise<boolean> {
  const chunk = Buffer.alloc(64 * 1024);
  for (let left = bytes; left > 0; left -= chunk.length) {
    if (res.destroyed) return false;
    if (!res.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) {
      await new Promise<void>((resolve) => {
        const go = () => {
          res.off('drain', go).off('close', go);
          resolve();
        };
        res.on('drain', go).on('close', go);
      });
    }
  }
  res.end();
  return true;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function listen(server: Server | Http2Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

// ---- Web Push ----

export interface TestSubscription {
  id: string;
  endpoint: string;
  keys: { p256dh: string; auth: string };
  ecdh: ReturnType<typeof createECDH>;
  authSecret: Buffer;
}

export interface WebPushDelivery {
  subscriptionId: string;
  payload: PushPayload;
  ttl: string | undefined;
  topic: string | undefined;
  urgency: string | undefined;
  /** The VAPID public key (`k`) the request was signed with. */
  vapidKey: string;
  /** The VAPID JWT's claims. */
  claims: Record<string, unknown>;
  at: number;
}

/** The RFC 8030 push service, plus FCM's endpoints on the same port. */
export class PushServiceStandIn {
  readonly deliveries: WebPushDelivery[] = [];
  readonly fcm: FcmDelivery[] = [];
  readonly attempts: Attempt[] = [];
  /** Anything a real service would have refused for reasons other than a scripted answer. */
  readonly errors: string[] = [];
  /** Scripted `bodyBytes` answers whose client closed the connection before the body was all sent. */
  cutBodies = 0;
  /** Requests being held by a `hang` answer. */
  readonly hanging: string[] = [];
  /** Requests held by a `hang` answer that have ended (the client gave up). */
  hangsEnded = 0;
  private readonly subs = new Map<string, TestSubscription>();
  private readonly scripts = new Map<string, Answer[]>();
  private readonly fcmTokens = new Set<string>();
  /** The FCM service account this stand-in accepts (its private key goes to the server). */
  readonly serviceAccount: {
    client_email: string;
    private_key: string;
    private_key_id: string;
    project_id: string;
  };
  private readonly accountKey: KeyObject;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.accountKey = publicKey;
    this.serviceAccount = {
      client_email: 'parley-test@parley-test.iam.gserviceaccount.com',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      private_key_id: randomUUID(),
      project_id: 'parley-test',
    };
  }

  static async start(): Promise<PushServiceStandIn> {
    const ref: { self?: PushServiceStandIn } = {};
    const server = createServer((req, res) => {
      ref.self?.handle(req, res).catch((err: unknown) => {
        ref.self?.errors.push(`handler: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    const port = await listen(server);
    const self = new PushServiceStandIn(server, `http://127.0.0.1:${port}`);
    ref.self = self;
    return self;
  }

  /** The service-account JSON for the server (token_uri pointing here). */
  fcmAccountJson(): string {
    return JSON.stringify({ ...this.serviceAccount, token_uri: `${this.url}/token` });
  }

  /** A new browser subscription: its own key pair and auth secret. */
  subscribe(): TestSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const authSecret = randomBytes(16);
    const id = randomUUID();
    const sub: TestSubscription = {
      id,
      endpoint: `${this.url}/push/${id}`,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') },
      ecdh,
      authSecret,
    };
    this.subs.set(id, sub);
    return sub;
  }

  /** Answer the next requests for a subscription id or FCM token with these, in order. */
  script(target: string, answers: Answer[]): void {
    this.scripts.set(target, [...(this.scripts.get(target) ?? []), ...answers]);
  }

  /** Drop what is still scripted for a target (the service is "fixed"). */
  unscript(target: string): void {
    this.scripts.delete(target);
  }

  deliveriesTo(sub: TestSubscription): WebPushDelivery[] {
    return this.deliveries.filter((d) => d.subscriptionId === sub.id);
  }

  private scripted(target: string, req: IncomingMessage, res: ServerResponse): boolean {
    const next = this.scripts.get(target)?.shift();
    if (!next) return false;
    this.attempts.push({
      target,
      status: next.status,
      at: Date.now(),
      acceptEncoding: req.headers['accept-encoding'],
    });
    if (next.hang) {
      this.hanging.push(target);
      res.once('close', () => {
        this.hanging.splice(this.hanging.indexOf(target), 1);
        this.hangsEnded++;
      });
      return true;
    }
    if (next.bodyBytes !== undefined) {
      res.writeHead(next.status, { ...next.headers, 'content-length': String(next.bodyBytes) });
      void writeZeros(res, next.bodyBytes).then((all) => {
        if (!all) this.cutBodies++;
      });
      return true;
    }
    if (next.gzipBytes !== undefined) {
      const bomb = gzipSync(Buffer.alloc(next.gzipBytes));
      res.writeHead(next.status, { ...next.headers, 'content-encoding': 'gzip' }).end(bomb);
      return true;
    }
    res.writeHead(next.status, next.headers ?? {}).end(next.body ?? '');
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await readBody(req);
    if (req.method === 'POST' && url.pathname.startsWith('/push/')) return this.push(url, req, body, res);
    if (req.method === 'POST' && url.pathname === '/token') return this.token(body, res);
    const send = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(url.pathname);
    if (req.method === 'POST' && send) return this.fcmSend(send[1] ?? '', req, body, res);
    res.writeHead(404).end();
  }

  private push(url: URL, req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    const id = url.pathname.slice('/push/'.length);
    const sub = this.subs.get(id);
    if (!sub) {
      res.writeHead(404).end();
      return;
    }
    // VAPID (RFC 8292 §3): Authorization: vapid t=<jwt>, k=<public key>.
    const auth = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(req.headers.authorization ?? '');
    if (!auth) return this.refuse(res, `bad Authorization: ${req.headers.authorization ?? '(none)'}`, 401);
    const [, jwt = '', k = ''] = auth;
    let claims: Record<string, unknown>;
    try {
      const verified = verifyJwt(jwt, 'ES256', p256PublicKey(Buffer.from(k, 'base64url')));
      claims = verified.claims;
      if (verified.header.typ !== 'JWT') throw new Error('typ is not JWT');
    } catch (err) {
      return this.refuse(res, `VAPID: ${(err as Error).message}`, 403);
    }
    if (claims.aud !== new URL(sub.endpoint).origin)
      return this.refuse(res, `VAPID aud ${String(claims.aud)}`, 403);
    const now = Date.now() / 1000;
    if (typeof claims.exp !== 'number' || claims.exp <= now || claims.exp > now + 24 * 3600) {
      return this.refuse(res, `VAPID exp ${String(claims.exp)}`, 403);
    }
    if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) {
      return this.refuse(res, `VAPID sub ${String(claims.sub)}`, 403);
    }
    if (req.headers['content-encoding'] !== 'aes128gcm') {
      return this.refuse(res, `Content-Encoding ${String(req.headers['content-encoding'])}`, 415);
    }
    if (req.headers.ttl === undefined) return this.refuse(res, 'no TTL header', 400);
    const topic = req.headers.topic as string | undefined;
    if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(topic))
      return this.refuse(res, `bad Topic ${topic}`, 400);
    if (this.scripted(id, req, res)) return;
    let payload: PushPayload;
    try {
      payload = JSON.parse(decryptWebPush(body, sub.ecdh, sub.authSecret).toString()) as PushPayload;
    } catch (err) {
      return this.refuse(res, `decrypt: ${(err as Error).message}`, 400);
    }
    this.attempts.push({
      target: id,
      status: 201,
      at: Date.now(),
      acceptEncoding: req.headers['accept-encoding'],
    });
    this.deliveries.push({
      subscriptionId: id,
      payload,
      ttl: req.headers.ttl as string,
      topic,
      urgency: req.headers.urgency as string | undefined,
      vapidKey: k,
      claims,
      at: Date.now(),
    });
    res.writeHead(201, { location: `${this.url}/message/${randomUUID()}` }).end();
  }

  private refuse(res: ServerResponse, why: string, status: number): void {
    this.errors.push(why);
    res.writeHead(status).end(why);
  }

  // ---- FCM ----

  /** Answer the OAuth2 JWT-bearer grant (RFC 7523) for the service account. */
  private token(body: Buffer, res: ServerResponse): void {
    const form = new URLSearchParams(body.toString());
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return this.refuse(res, `grant_type ${String(form.get('grant_type'))}`, 400);
    }
    try {
      const { header, claims } = verifyJwt(form.get('assertion') ?? '', 'RS256', this.accountKey);
      if (header.kid !== this.serviceAccount.private_key_id) throw new Error('kid');
      if (claims.iss !== this.serviceAccount.client_email) throw new Error('iss');
      if (claims.aud !== `${this.url}/token`) throw new Error(`aud ${String(claims.aud)}`);
      if (claims.scope !== 'https://www.googleapis.com/auth/firebase.messaging') throw new Error('scope');
      const now = Date.now() / 1000;
      if (typeof claims.exp !== 'number' || claims.exp <= now || typeof claims.iat !== 'number') {
        throw new Error('exp/iat');
      }
    } catch (err) {
      return this.refuse(res, `OAuth2 assertion: ${(err as Error).message}`, 400);
    }
    const token = `ya29.${randomBytes(16).toString('base64url')}`;
    this.fcmTokens.add(token);
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ access_token: token, expires_in: 3599, token_type: 'Bearer' }));
  }

  private fcmSend(project: string, req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (bearer === undefined || !this.fcmTokens.has(bearer)) {
      return this.refuse(res, 'FCM: no valid access token', 401);
    }
    if (project !== this.serviceAccount.project_id) return this.refuse(res, `FCM project ${project}`, 404);
    const msg = (JSON.parse(body.toString()) as { message?: FcmMessage }).message;
    if (!msg || typeof msg.token !== 'string') return this.refuse(res, 'FCM: no message.token', 400);
    for (const [k, v] of Object.entries(msg.data ?? {})) {
      if (typeof v !== 'string') return this.refuse(res, `FCM: data.${k} is not a string`, 400);
    }
    if (this.scripted(msg.token, req, res)) return;
    this.attempts.push({
      target: msg.token,
      status: 200,
      at: Date.now(),
      acceptEncoding: req.headers['accept-encoding'],
    });
    this.fcm.push({ token: msg.token, message: msg, at: Date.now() });
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ name: `projects/${project}/messages/${randomUUID()}` }));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export interface FcmMessage {
  token: string;
  data?: Record<string, unknown>;
  notification?: { title?: string; body?: string };
  android?: { collapse_key?: string; priority?: string; ttl?: string; notification?: { tag?: string } };
  apns?: { headers?: Record<string, string> };
}

export interface FcmDelivery {
  token: string;
  message: FcmMessage;
  at: number;
}

// ---- APNs ----

export interface ApnsDelivery {
  token: string;
  headers: Record<string, string>;
  body: { aps: { alert: { title: string; body: string } }; parley: PushPayload };
  at: number;
}

/** APNs over h2c: the server's `--apns-base-url` is `url`. */
export class ApnsStandIn {
  readonly deliveries: ApnsDelivery[] = [];
  readonly attempts: Attempt[] = [];
  readonly errors: string[] = [];
  private readonly scripts = new Map<string, Answer[]>();
  readonly keyId = 'ABC123DEFG';
  readonly teamId = 'TEAM123456';
  readonly topic = 'org.parley.app';
  /** The .p8 key (PKCS#8 PEM) the server signs with. */
  readonly keyPem: string;
  private readonly publicKey: KeyObject;

  private constructor(
    private readonly server: Http2Server,
    readonly url: string,
    keys: { pem: string; pub: KeyObject },
  ) {
    this.keyPem = keys.pem;
    this.publicKey = keys.pub;
  }

  static async start(): Promise<ApnsStandIn> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ref: { self?: ApnsStandIn } = {};
    const server = createH2Server();
    server.on('stream', (stream, headers) => {
      let data = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => (data += c));
      stream.on('end', () => {
        const answer = ref.self?.handle(headers as Record<string, string>, data) ?? { status: 500 };
        stream.respond({ [h2.HTTP2_HEADER_STATUS]: answer.status, ...(answer.headers ?? {}) });
        stream.end(answer.body ?? '');
      });
    });
    const port = await listen(server);
    const self = new ApnsStandIn(server, `http://127.0.0.1:${port}`, {
      pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      pub: publicKey,
    });
    ref.self = self;
    return self;
  }

  /** A device token (hex), as an iOS app gets one. */
  deviceToken(): string {
    return randomBytes(32).toString('hex');
  }

  script(token: string, answers: Answer[]): void {
    this.scripts.set(token, [...(this.scripts.get(token) ?? []), ...answers]);
  }

  private refuse(why: string, status: number, reason: string): Answer {
    this.errors.push(why);
    return { status, body: JSON.stringify({ reason }) };
  }

  private handle(headers: Record<string, string>, data: string): Answer {
    const token = /^\/3\/device\/([0-9a-f]+)$/.exec(headers[':path'] ?? '')?.[1];
    if (headers[':method'] !== 'POST' || token === undefined)
      return this.refuse('APNs: bad path', 404, 'BadPath');
    const bearer = /^bearer (.+)$/.exec(headers.authorization ?? '')?.[1];
    try {
      const { header, claims } = verifyJwt(bearer ?? '', 'ES256', this.publicKey);
      if (header.kid !== this.keyId) throw new Error(`kid ${String(header.kid)}`);
      if (claims.iss !== this.teamId) throw new Error(`iss ${String(claims.iss)}`);
      if (typeof claims.iat !== 'number' || claims.iat > Date.now() / 1000 + 60) throw new Error('iat');
    } catch (err) {
      return this.refuse(`APNs token: ${(err as Error).message}`, 403, 'InvalidProviderToken');
    }
    if (headers['apns-topic'] !== this.topic) return this.refuse('APNs: apns-topic', 400, 'BadTopic');
    if (headers['apns-push-type'] !== 'alert')
      return this.refuse('APNs: apns-push-type', 400, 'InvalidPushType');
    const collapse = headers['apns-collapse-id'];
    if (collapse === undefined || Buffer.byteLength(collapse) > 64) {
      return this.refuse('APNs: apns-collapse-id', 400, 'BadCollapseId');
    }
    const next = this.scripts.get(token)?.shift();
    if (next) {
      this.attempts.push({
        target: token,
        status: next.status,
        at: Date.now(),
        acceptEncoding: headers['accept-encoding'],
      });
      return next;
    }
    let body: ApnsDelivery['body'];
    try {
      body = JSON.parse(data) as ApnsDelivery['body'];
      if (typeof body.aps.alert.title !== 'string') throw new Error('no alert');
    } catch (err) {
      return this.refuse(`APNs payload: ${(err as Error).message}`, 400, 'PayloadEmpty');
    }
    this.attempts.push({
      target: token,
      status: 200,
      at: Date.now(),
      acceptEncoding: headers['accept-encoding'],
    });
    this.deliveries.push({ token, headers, body, at: Date.now() });
    return { status: 200, headers: { 'apns-id': randomUUID() } };
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
