/** The presence rule: what each kind of viewer sees under each privacy setting. */
import { describe, expect, it } from 'vitest';
import { presenceChangeFor, presenceFor } from '../../../packages/server/src/presence/presence-policy.js';
import type { Viewer } from '../../../packages/server/src/presence/presence-policy.js';

const at = 1_796_646_436_343;
const minute = Math.floor(at / 60_000) * 60_000;
const on = { userId: 'u', online: true, lastActiveAt: at };
const off = { ...on, online: false };

describe('presence policy', () => {
  it('shows contacts by default, others nothing, the user everything exactly', () => {
    const defaults = { online: 'contacts', lastSeen: 'contacts' } as const;
    expect(presenceFor(on, defaults, 'contact')).toEqual({ userId: 'u', online: true, lastActiveAt: minute });
    expect(presenceFor(on, defaults, 'other')).toBeNull();
    expect(presenceFor(on, defaults, 'self')).toEqual(on);
  });

  it('widens to everyone and narrows to nobody, online and last seen apart', () => {
    const table: [string, string, Viewer, unknown][] = [
      ['everyone', 'everyone', 'other', { userId: 'u', online: true, lastActiveAt: minute }],
      ['nobody', 'nobody', 'contact', null],
      ['nobody', 'nobody', 'self', on],
      ['contacts', 'nobody', 'contact', { userId: 'u', online: true, lastActiveAt: null }],
      ['nobody', 'everyone', 'other', { userId: 'u', online: false, lastActiveAt: minute }],
    ];
    for (const [online, lastSeen, viewer, want] of table) {
      const privacy = { online, lastSeen } as Parameters<typeof presenceFor>[1];
      expect(presenceFor(on, privacy, viewer), `${online}/${lastSeen}/${viewer}`).toEqual(want);
    }
  });

  it('pushes no coming online to whom only the last seen is shown, but the going offline', () => {
    const privacy = { online: 'nobody', lastSeen: 'contacts' } as const;
    expect(presenceChangeFor(on, privacy, 'contact')).toBeNull();
    expect(presenceChangeFor(off, privacy, 'contact')).toEqual({ ...off, lastActiveAt: minute });
    expect(presenceChangeFor(on, { online: 'contacts', lastSeen: 'nobody' }, 'other')).toBeNull();
  });
});
