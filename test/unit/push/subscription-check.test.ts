/** Web Push subscriptions are checked before they are stored: format, and no endpoints into private networks (SSRF). */
import { describe, expect, it } from 'vitest';
import { checkWebPushSubscription } from '../../../packages/server/src/push/webpush/webpush-provider.js';

const keys = {
  p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url'),
  auth: Buffer.alloc(16, 3).toString('base64url'),
};

describe('checkWebPushSubscription', () => {
  it('accepts https endpoints of public push services', () => {
    for (const url of [
      'https://fcm.googleapis.com/fcm/send/abc',
      'https://updates.push.services.mozilla.com/wpush/v2/abc',
      'https://web.push.apple.com/abc',
      'https://93.184.216.34/push',
      'https://[2a00:1450:4001:82b::200a]/push',
      // Resolves to 127.0.0.1, but only a connection can tell: refused then (address-guard.test.ts).
      'https://127.0.0.1.nip.io/x',
    ]) {
      expect(checkWebPushSubscription(url, keys, false), url).toBeNull();
    }
  });

  it('refuses endpoints on private, loopback and link-local hosts', () => {
    for (const url of [
      'https://127.0.0.1/x',
      'https://10.1.2.3/x',
      'https://172.20.0.1/x',
      'https://192.168.1.1/x',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/x',
      'https://[fd00::1]/x',
      'https://[::ffff:127.0.0.1]/x',
      'https://localhost/x',
      'https://printer.local/x',
      'https://intranet/x',
      // Trailing dots, other spellings and wrappers of private addresses.
      'https://localhost.:33225/x',
      'https://printer.local./x',
      'https://0x7f000001/x',
      'https://[::127.0.0.1]/x',
      'https://[::ffff:7f00:1]/x',
      'https://[64:ff9b::a9fe:a9fe]/x',
      'https://[2002:7f00:1::]/x',
      'https://[2001:db8::1]/x',
      'https://[ff02::1]/x',
      'https://[::]/x',
      'https://100.64.0.1/x',
      'https://198.18.0.1/x',
      'https://224.0.0.1/x',
      'https://240.0.0.1/x',
      'https://0.0.0.0/x',
      // Names that only exist inside a network.
      'https://redis.service.consul/x',
      'https://api.default.svc/x',
      'https://metadata.google.internal/x',
      'https://router.home.arpa/x',
    ]) {
      expect(checkWebPushSubscription(url, keys, false), url).toBe('endpoint must be on a public host');
    }
  });

  it('refuses http, credentials in the URL and malformed keys', () => {
    expect(checkWebPushSubscription('http://push.example.com/x', keys, false)).toMatch(/https/);
    expect(checkWebPushSubscription('https://u:p@push.example.com/x', keys, false)).toMatch(/credentials/);
    expect(checkWebPushSubscription('https://push.example.com/x', { ...keys, auth: 'short' }, false)).toMatch(
      /auth/,
    );
    expect(
      checkWebPushSubscription('https://push.example.com/x', { ...keys, p256dh: keys.auth }, false),
    ).toMatch(/p256dh/);
    expect(checkWebPushSubscription('not a url', keys, false)).toMatch(/URL/);
  });

  it('allows a local http push service only in test mode', () => {
    expect(checkWebPushSubscription('http://127.0.0.1:9999/push/1', keys, true)).toBeNull();
  });
});
