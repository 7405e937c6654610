/** The server-wide switch for link previews: on by default, off by flag or env var. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, readConfig } from '../../../packages/server/src/config.js';

describe('--link-previews', () => {
  it('is on by default', () => {
    expect(DEFAULT_CONFIG.linkPreviews).toBe(true);
    expect(readConfig([], {})).not.toHaveProperty('linkPreviews');
  });

  it('is turned off by the flag or PARLEY_LINK_PREVIEWS, the flag winning', () => {
    expect(readConfig(['--link-previews', 'false'], {})).toMatchObject({ linkPreviews: false });
    expect(readConfig([], { PARLEY_LINK_PREVIEWS: '0' })).toMatchObject({ linkPreviews: false });
    expect(readConfig(['--link-previews', 'true'], { PARLEY_LINK_PREVIEWS: 'false' })).toMatchObject({
      linkPreviews: true,
    });
  });

  it('takes only true or false', () => {
    expect(() => readConfig(['--link-previews', 'off'], {})).toThrow('--link-previews must be true or false');
  });
});
