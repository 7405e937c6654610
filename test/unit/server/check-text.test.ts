import { describe, expect, it } from 'vitest';
import { MAX_TEXT_BYTES, MAX_TEXT_CODE_POINTS } from '@parley/protocol';
import { checkText } from '../../../packages/server/src/messages/message-service.js';

describe('checkText', () => {
  it('takes the longest text of one-byte characters, even ones JSON escapes to 6 bytes', () => {
    expect(() => checkText('\u0001'.repeat(MAX_TEXT_CODE_POINTS))).not.toThrow();
  });

  it('refuses text over the UTF-8 byte cap although its code points fit', () => {
    const euros = '€'.repeat(MAX_TEXT_CODE_POINTS); // 3 bytes each
    expect(Buffer.byteLength(euros)).toBeGreaterThan(MAX_TEXT_BYTES);
    expect(() => checkText(euros)).toThrow(expect.objectContaining({ code: 'text_too_long' }));
    expect(() => checkText('€'.repeat(Math.floor(MAX_TEXT_BYTES / 3)))).not.toThrow();
  });
});
