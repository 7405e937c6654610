/**
 * Who gets a push notification for a message, per device: the one rule, kept pure so it is
 * tested on its own. Everything it needs is looked up by the push service beforehand.
 */
import { inActiveUse } from '../presence/device-activity.js';
import type { DeviceUse } from '../presence/device-activity.js';

/** One push subscription of a member, for one message. */
export interface PushCandidate {
  /** The member muted the conversation (now). */
  muted: boolean;
  /** The member's mute silences mentions of them too (only counts while muted). */
  mutedMentions: boolean;
  /** The message mentions the member. */
  mentioned: boolean;
  /** Use of the subscription's device; undefined when it is not connected anywhere. */
  device: DeviceUse | undefined;
}

/**
 * Push unless the person is looking already: a device in active use (app in the foreground,
 * used within `idleMs`) gets nothing, every other device of the member does (a phone in a
 * pocket while a laptop tab is open but hidden or idle). A muted conversation pushes only a
 * message that mentions the member, and nothing when the mute covers mentions too.
 */
export function shouldPush(c: PushCandidate, now: number, idleMs: number): boolean {
  if (c.muted && (!c.mentioned || c.mutedMentions)) return false;
  return !inActiveUse(c.device, now, idleMs);
}
