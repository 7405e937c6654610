/** The push decision per device, and the rule of active use it rests on. */
import { describe, expect, it } from 'vitest';
import { decodeDeviceUse, encodeDeviceUse, inActiveUse, shouldPush } from '@parley/server';
import type { DeviceUse, PushCandidate } from '@parley/server';

const NOW = 1_000_000;
const IDLE = 60_000;
const front = (ago: number): DeviceUse => ({ activeAt: NOW - ago, foreground: true });
const back = (ago: number): DeviceUse => ({ activeAt: NOW - ago, foreground: false });
const candidate = (c: Partial<PushCandidate>): PushCandidate => ({
  muted: false,
  mutedMentions: false,
  mentioned: false,
  device: undefined,
  ...c,
});

describe('inActiveUse', () => {
  it('is a device in the foreground used within the idle time, nothing else', () => {
    expect(inActiveUse(front(0), NOW, IDLE)).toBe(true);
    expect(inActiveUse(front(IDLE - 1), NOW, IDLE)).toBe(true);
    expect(inActiveUse(front(IDLE), NOW, IDLE)).toBe(false);
    expect(inActiveUse(back(0), NOW, IDLE)).toBe(false);
    expect(inActiveUse(undefined, NOW, IDLE)).toBe(false);
  });

  it('survives the trip through Redis, and reads a bare time as in the foreground', () => {
    for (const use of [front(5), back(5)]) expect(decodeDeviceUse(encodeDeviceUse(use))).toEqual(use);
    expect(decodeDeviceUse(String(NOW))).toEqual({ activeAt: NOW, foreground: true });
    expect(decodeDeviceUse(null)).toBeUndefined();
    expect(decodeDeviceUse('junk')).toBeUndefined();
  });
});

describe('shouldPush', () => {
  it('pushes to a device not connected, in the background, or idle', () => {
    expect(shouldPush(candidate({}), NOW, IDLE)).toBe(true);
    expect(shouldPush(candidate({ device: back(0) }), NOW, IDLE)).toBe(true);
    expect(shouldPush(candidate({ device: front(IDLE + 1) }), NOW, IDLE)).toBe(true);
  });

  it('does not push to a device in active use, mention or not', () => {
    expect(shouldPush(candidate({ device: front(1000) }), NOW, IDLE)).toBe(false);
    expect(shouldPush(candidate({ device: front(1000), mentioned: true }), NOW, IDLE)).toBe(false);
  });

  it('pushes from a muted conversation only a mention', () => {
    expect(shouldPush(candidate({ muted: true }), NOW, IDLE)).toBe(false);
    expect(shouldPush(candidate({ muted: true, device: back(0) }), NOW, IDLE)).toBe(false);
    expect(shouldPush(candidate({ muted: true, mentioned: true }), NOW, IDLE)).toBe(true);
    expect(shouldPush(candidate({ muted: true, mentioned: true, device: front(0) }), NOW, IDLE)).toBe(false);
  });

  it('pushes nothing from a conversation muted with its mentions', () => {
    const mutedAll = { muted: true, mutedMentions: true };
    expect(shouldPush(candidate(mutedAll), NOW, IDLE)).toBe(false);
    expect(shouldPush(candidate({ ...mutedAll, mentioned: true }), NOW, IDLE)).toBe(false);
    expect(shouldPush(candidate({ ...mutedAll, mentioned: true, device: back(0) }), NOW, IDLE)).toBe(false);
    // Without the mute, the flag alone silences nothing.
    expect(shouldPush(candidate({ mutedMentions: true, mentioned: true }), NOW, IDLE)).toBe(true);
  });
});
