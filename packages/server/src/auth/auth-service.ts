import {
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  ParleyError,
  USERNAME_PATTERN,
  codePointLength,
} from '@parley/protocol';
import type { Device, Session, UpdateSettingsRequest, User, UserSettings } from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import { hashToken, newToken, randomId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { AccountStore, DeviceRow, DeviceWithUser, UserRow } from '../store/store.js';
import { TurnBatch } from '../turn-batch.js';
import { cleanName } from '../validate.js';
import { MemoryLoginThrottle } from './login-throttle.js';
import type { LoginThrottle } from './login-throttle.js';
import type { PasswordHasher } from './passwords.js';

/** Who is calling: resolved from the bearer token on every request and at the WebSocket upgrade. */
export interface AuthContext {
  userId: string;
  deviceId: string;
  username: string;
}

export const toUser = (u: UserRow): User => ({ id: u.id, username: u.username, displayName: u.displayName });

const toDevice = (d: DeviceRow, currentId: string): Device => ({
  id: d.id,
  name: d.name,
  createdAt: d.createdAt,
  lastSeenAt: d.lastSeenAt,
  current: d.id === currentId,
});

/** Token hashes (of live devices) remembered by `AuthCache`; the oldest go first past this. */
export const AUTH_CACHE_MAX = 100_000;
/**
 * How long a cached token hash is trusted without asking the store again. Revocation removes
 * it at once (locally, and on every server through the bus's `revoke` event, or by clearing
 * the whole cache on `resync` when bus events may have been lost); this bounds how long a
 * revoked token could still open a socket on another server if the revoke event were lost
 * anyway.
 */
export const AUTH_CACHE_TTL_MS = 60_000;

interface CacheEntry {
  ctx: AuthContext;
  at: number;
}

/**
 * Token hash → device, so a connect (or a request) needs no store round trip for its auth.
 * Only live devices are cached (never a miss), keyed by the token's hash like the store.
 * Insertion order is age order: expired and excess entries leave from the front.
 */
export class AuthCache {
  private readonly entries = new Map<string, CacheEntry>();
  /** deviceId → its token hash (one token per device), for revocation. */
  private readonly byDevice = new Map<string, string>();
  /** Bumped by every invalidation: a store read begun before one must not be cached after it. */
  generation = 0;

  constructor(
    private readonly max = AUTH_CACHE_MAX,
    private readonly ttlMs = AUTH_CACHE_TTL_MS,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(hash: string, now = Date.now()): AuthContext | undefined {
    const e = this.entries.get(hash);
    if (!e) return undefined;
    if (now - e.at >= this.ttlMs) {
      this.delete(hash, e);
      return undefined;
    }
    return e.ctx;
  }

  /** Cache a store answer read while `generation` was `gen` (dropped if anything was invalidated since). */
  set(hash: string, ctx: AuthContext, gen: number, now = Date.now()): void {
    if (gen !== this.generation || this.max <= 0) return;
    const old = this.entries.get(hash);
    if (old) this.delete(hash, old);
    this.entries.set(hash, { ctx, at: now });
    this.byDevice.set(ctx.deviceId, hash);
    // Oldest first: drop what expired, then what is over the bound.
    for (const [h, e] of this.entries) {
      if (this.entries.size <= this.max && now - e.at < this.ttlMs) break;
      this.delete(h, e);
    }
  }

  private delete(hash: string, e: CacheEntry): void {
    this.entries.delete(hash);
    if (this.byDevice.get(e.ctx.deviceId) === hash) this.byDevice.delete(e.ctx.deviceId);
  }

  /** Forget these devices' tokens (revoked or logged out). */
  invalidateDevices(deviceIds: readonly string[]): void {
    this.generation++;
    for (const id of deviceIds) {
      const hash = this.byDevice.get(id);
      const e = hash === undefined ? undefined : this.entries.get(hash);
      if (hash !== undefined && e) this.delete(hash, e);
      this.byDevice.delete(id);
    }
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.byDevice.clear();
  }
}

/** A login refused because its username is waiting out failed attempts; `retryAfterMs` says how long. */
export class LoginThrottledError extends ParleyError {
  constructor(readonly retryAfterMs: number) {
    super(
      'rate_limited',
      `Too many failed logins for this account; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
    );
  }
}

export interface AuthOptions {
  /** Per-username back-off after failed logins. Default: in memory, 5 free failures, 1 s doubling to 5 min. */
  throttle?: LoginThrottle;
  /** Where security events (logins, failures, back-offs, signups, revocations) go, at info. Default: nowhere. */
  log?: Logger;
  /** Most devices (sessions) one user may have; a login past it signs out the one used longest ago. 0: no cap. Default 0. */
  maxDevicesPerUser?: number;
}

/** Who asked, for the security log: the client address as the server sees it. */
export interface Origin {
  ip?: string;
}

export class AuthService {
  /** A hash computed for unknown usernames so a failed login takes as long either way. */
  private dummyHash: Promise<string> | undefined;
  readonly cache: AuthCache;
  /** Token lookups of one event-loop turn in one store call (a reconnect storm's upgrades). */
  private readonly lookups: TurnBatch<string, DeviceWithUser | null>;
  private readonly throttle: LoginThrottle;
  /** The last login attempt queued for each username (see `login`). */
  private readonly loginsInProgress = new Map<string, Promise<void>>();
  private readonly maxDevicesPerUser: number;
  /** Security events only; never a password, token or token hash. */
  private readonly log: Logger | undefined;

  constructor(
    private readonly accounts: AccountStore,
    private readonly hasher: PasswordHasher,
    private readonly bus: Bus,
    cache: AuthCache = new AuthCache(),
    options: AuthOptions = {},
  ) {
    this.cache = cache;
    this.throttle = options.throttle ?? new MemoryLoginThrottle();
    this.maxDevicesPerUser = options.maxDevicesPerUser ?? 0;
    this.log = options.log;
    this.lookups = new TurnBatch((hashes) => accounts.getDevicesByTokenHashes(hashes));
    // A device revoked on any server (the bus carries `revoke` to all of them) stops
    // authenticating here at once; when the bus may have lost events, forget everything.
    bus.subscribe((e) => {
      if (e.type === 'revoke') this.cache.invalidateDevices(e.deviceIds);
      else if (e.type === 'resync') this.cache.clear();
    });
  }

  static normalizeUsername(raw: string): string {
    return raw.trim().toLowerCase();
  }

  async signup(
    rawUsername: string,
    password: string,
    displayName?: string,
    origin: Origin = {},
  ): Promise<User> {
    const username = AuthService.normalizeUsername(rawUsername);
    if (!USERNAME_PATTERN.test(username)) throw new ParleyError('invalid_username');
    const n = codePointLength(password);
    if (n < MIN_PASSWORD_LENGTH) throw new ParleyError('weak_password');
    if (n > MAX_PASSWORD_LENGTH) throw new ParleyError('invalid_field', 'Password is too long');
    const name =
      displayName === undefined || displayName.trim() === ''
        ? username
        : cleanName(displayName, 'displayName');
    if (await this.accounts.getUserByUsername(username)) throw new ParleyError('username_taken');
    const user: UserRow = {
      id: randomId('u_'),
      username,
      displayName: name,
      passwordHash: await this.hasher.hash(password),
      createdAt: Date.now(),
    };
    await this.accounts.createUser(user);
    this.log?.info({ event: 'signup', username, userId: user.id, ip: origin.ip }, 'signup');
    return toUser(user);
  }

  /**
   * Log in, one attempt per username at a time in this process: devices of one user logging in
   * together then each find the count cleared by the previous success, instead of all counting
   * as failures while the first is being hashed.
   */
  async login(
    rawUsername: string,
    password: string,
    deviceName?: string,
    origin: Origin = {},
  ): Promise<Session> {
    const username = AuthService.normalizeUsername(rawUsername);
    const previous = this.loginsInProgress.get(username) ?? Promise.resolve();
    const attempt = () => this.loginOnce(username, password, deviceName, origin);
    const result = previous.then(attempt, attempt);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.loginsInProgress.set(username, settled);
    void settled.then(() => {
      if (this.loginsInProgress.get(username) === settled) this.loginsInProgress.delete(username);
    });
    return result;
  }

  private async loginOnce(
    username: string,
    password: string,
    deviceName: string | undefined,
    origin: Origin,
  ): Promise<Session> {
    // Checked before any hashing: a username waiting out its back-off costs no scrypt. Unknown
    // usernames wait alike, so the answers tell nothing about which accounts exist.
    // Each attempt counts as a failure until its password is found right (a success clears the
    // count), so guesses sent together cannot all slip in while the first ones are hashing.
    const { waitMs, backoffMs } = await this.throttle.attempt(username);
    if (waitMs > 0) {
      this.log?.info(
        { event: 'login_throttled', username, ip: origin.ip, retryAfterMs: waitMs },
        'login throttled',
      );
      throw new LoginThrottledError(waitMs);
    }
    const user = USERNAME_PATTERN.test(username) ? await this.accounts.getUserByUsername(username) : null;
    // Counted in code points as at signup: a password of 600 emoji is 1,200 UTF-16 units.
    const tooLong = codePointLength(password) > MAX_PASSWORD_LENGTH;
    let ok: boolean;
    if (!user || tooLong) {
      this.dummyHash ??= this.hasher.hash('parley-dummy-password');
      await this.hasher.verify(password.slice(0, MAX_PASSWORD_LENGTH), await this.dummyHash);
      ok = false;
    } else ok = await this.hasher.verify(password, user.passwordHash);
    if (!ok || !user) {
      this.log?.info(
        { event: 'login_failed', username, ip: origin.ip, knownUser: user !== null, backoffMs },
        'login failed',
      );
      throw new ParleyError('invalid_credentials');
    }
    await this.throttle.succeeded(username);
    if (this.maxDevicesPerUser > 0) await this.makeRoomForDevice(user.id, username, origin);
    const now = Date.now();
    const device: DeviceRow = {
      id: randomId('d_'),
      userId: user.id,
      name:
        deviceName === undefined || deviceName.trim() === ''
          ? 'Unnamed device'
          : cleanName(deviceName, 'deviceName'),
      createdAt: now,
      lastSeenAt: now,
    };
    const token = newToken();
    const hash = hashToken(token);
    const gen = this.cache.generation;
    await this.accounts.createDevice(device, hash);
    // A new device usually connects right away: its first upgrade needs no store read.
    this.cache.set(
      hash,
      Object.freeze({ userId: user.id, deviceId: device.id, username: user.username }),
      gen,
    );
    this.log?.info(
      { event: 'login', username, userId: user.id, deviceId: device.id, ip: origin.ip },
      'login succeeded',
    );
    return { token, user: toUser(user), device: toDevice(device, device.id) };
  }

  async authenticate(token: string): Promise<AuthContext | null> {
    if (token.length === 0 || token.length > 128) return null;
    const hash = hashToken(token);
    const cached = this.cache.get(hash);
    if (cached) return cached;
    const gen = this.cache.generation;
    const found = await this.lookups.get(hash);
    if (!found) return null;
    // Shared by every caller holding this token: never mutated.
    const ctx: AuthContext = Object.freeze({
      userId: found.user.id,
      deviceId: found.device.id,
      username: found.user.username,
    });
    this.cache.set(hash, ctx, gen);
    return ctx;
  }

  async me(userId: string): Promise<User> {
    const u = await this.accounts.getUserById(userId);
    if (!u) throw new ParleyError('unauthorized');
    return toUser(u);
  }

  async getUser(rawUsername: string): Promise<User> {
    const u = await this.accounts.getUserByUsername(AuthService.normalizeUsername(rawUsername));
    if (!u) throw new ParleyError('not_found', 'No such user');
    return toUser(u);
  }

  async setDisplayName(userId: string, displayName: string): Promise<User> {
    await this.accounts.setDisplayName(userId, cleanName(displayName, 'displayName'));
    return this.me(userId);
  }

  async settings(userId: string): Promise<UserSettings> {
    const u = await this.accounts.getUserById(userId);
    if (!u) throw new ParleyError('unauthorized');
    return { pushPreview: u.pushPreview !== false };
  }

  async updateSettings(userId: string, req: UpdateSettingsRequest): Promise<UserSettings> {
    if (req.pushPreview !== undefined) await this.accounts.setPushPreview(userId, req.pushPreview);
    return this.settings(userId);
  }

  /**
   * At the device cap, a login signs out the devices used longest ago to make room, rather than
   * refusing: a user whose devices are all stale (browser data cleared) could not otherwise log
   * in anywhere to revoke one.
   */
  private async makeRoomForDevice(userId: string, username: string, origin: Origin): Promise<void> {
    const devices = await this.accounts.listDevices(userId);
    const excess = devices.length - this.maxDevicesPerUser + 1;
    if (excess <= 0) return;
    const stale = [...devices].sort((a, b) => a.lastSeenAt - b.lastSeenAt).slice(0, excess);
    for (const d of stale) {
      if (!(await this.accounts.revokeDevice(userId, d.id))) continue;
      this.cache.invalidateDevices([d.id]);
      this.bus.publish({ type: 'revoke', deviceIds: [d.id] });
      this.log?.info(
        { event: 'device_revoked', username, userId, deviceId: d.id, reason: 'device_cap', ip: origin.ip },
        'device revoked to make room for a new login',
      );
    }
  }

  async listDevices(ctx: AuthContext): Promise<Device[]> {
    return (await this.accounts.listDevices(ctx.userId)).map((d) => toDevice(d, ctx.deviceId));
  }

  /**
   * Revoke a device (or log out the current one): its token stops working, its sockets close
   * now, and its push subscriptions are removed with it (no notification reaches it again).
   */
  async revokeDevice(ctx: AuthContext, deviceId: string, origin: Origin = {}): Promise<void> {
    const revoked = await this.accounts.revokeDevice(ctx.userId, deviceId);
    // Whatever the answer (a concurrent revoke may have won), this server forgets the token now.
    this.cache.invalidateDevices([deviceId]);
    if (!revoked) throw new ParleyError('not_found', 'No such device');
    this.bus.publish({ type: 'revoke', deviceIds: [deviceId] });
    this.log?.info(
      {
        event: deviceId === ctx.deviceId ? 'logout' : 'device_revoked',
        username: ctx.username,
        userId: ctx.userId,
        deviceId,
        byDeviceId: ctx.deviceId,
        ip: origin.ip,
      },
      deviceId === ctx.deviceId ? 'logout' : 'device revoked',
    );
  }
}
