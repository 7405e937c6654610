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
import type { DeviceRow, Store, UserRow } from '../store/store.js';
import { cleanName } from '../validate.js';
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

export class AuthService {
  /** A hash computed for unknown usernames so a failed login takes as long either way. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly store: Store,
    private readonly hasher: PasswordHasher,
    private readonly bus: Bus,
  ) {}

  static normalizeUsername(raw: string): string {
    return raw.trim().toLowerCase();
  }

  async signup(rawUsername: string, password: string, displayName?: string): Promise<User> {
    const username = AuthService.normalizeUsername(rawUsername);
    if (!USERNAME_PATTERN.test(username)) throw new ParleyError('invalid_username');
    const n = codePointLength(password);
    if (n < MIN_PASSWORD_LENGTH) throw new ParleyError('weak_password');
    if (n > MAX_PASSWORD_LENGTH) throw new ParleyError('invalid_field', 'Password is too long');
    const name =
      displayName === undefined || displayName.trim() === ''
        ? username
        : cleanName(displayName, 'displayName');
    if (await this.store.getUserByUsername(username)) throw new ParleyError('username_taken');
    const user: UserRow = {
      id: randomId('u_'),
      username,
      displayName: name,
      passwordHash: await this.hasher.hash(password),
      createdAt: Date.now(),
    };
    await this.store.createUser(user);
    return toUser(user);
  }

  async login(rawUsername: string, password: string, deviceName?: string): Promise<Session> {
    const username = AuthService.normalizeUsername(rawUsername);
    const user = USERNAME_PATTERN.test(username) ? await this.store.getUserByUsername(username) : null;
    if (!user || password.length > MAX_PASSWORD_LENGTH) {
      this.dummyHash ??= this.hasher.hash('parley-dummy-password');
      await this.hasher.verify(password.slice(0, MAX_PASSWORD_LENGTH), await this.dummyHash);
      throw new ParleyError('invalid_credentials');
    }
    if (!(await this.hasher.verify(password, user.passwordHash)))
      throw new ParleyError('invalid_credentials');
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
    await this.store.createDevice(device, hashToken(token));
    return { token, user: toUser(user), device: toDevice(device, device.id) };
  }

  async authenticate(token: string): Promise<AuthContext | null> {
    if (token.length === 0 || token.length > 128) return null;
    const found = await this.store.getDeviceByTokenHash(hashToken(token));
    if (!found) return null;
    return { userId: found.user.id, deviceId: found.device.id, username: found.user.username };
  }

  async me(userId: string): Promise<User> {
    const u = await this.store.getUserById(userId);
    if (!u) throw new ParleyError('unauthorized');
    return toUser(u);
  }

  async getUser(rawUsername: string): Promise<User> {
    const u = await this.store.getUserByUsername(AuthService.normalizeUsername(rawUsername));
    if (!u) throw new ParleyError('not_found', 'No such user');
    return toUser(u);
  }

  async setDisplayName(userId: string, displayName: string): Promise<User> {
    await this.store.setDisplayName(userId, cleanName(displayName, 'displayName'));
    return this.me(userId);
  }

  async settings(userId: string): Promise<UserSettings> {
    const u = await this.store.getUserById(userId);
    if (!u) throw new ParleyError('unauthorized');
    return { pushPreview: u.pushPreview !== false };
  }

  async updateSettings(userId: string, req: UpdateSettingsRequest): Promise<UserSettings> {
    if (req.pushPreview !== undefined) await this.store.setPushPreview(userId, req.pushPreview);
    return this.settings(userId);
  }

  async listDevices(ctx: AuthContext): Promise<Device[]> {
    return (await this.store.listDevices(ctx.userId)).map((d) => toDevice(d, ctx.deviceId));
  }

  /**
   * Revoke a device (or log out the current one): its token stops working, its sockets close
   * now, and its push subscriptions are removed with it (no notification reaches it again).
   */
  async revokeDevice(ctx: AuthContext, deviceId: string): Promise<void> {
    if (!(await this.store.revokeDevice(ctx.userId, deviceId)))
      throw new ParleyError('not_found', 'No such device');
    this.bus.publish({ type: 'revoke', deviceIds: [deviceId] });
  }
}
