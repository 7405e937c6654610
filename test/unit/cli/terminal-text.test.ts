import { describe, expect, it } from 'vitest';
import { escapeLine, escapeText, preview } from '@parley/server/dist/cli/terminal-text.js';

/** Anything a terminal would act on rather than print. */
// eslint-disable-next-line no-control-regex -- matching controls is the point
const ACTIVE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('escapeLine', () => {
  it('shows escape sequences as text: clear screen, window title, OSC 52 clipboard, conceal', () => {
    const hostile =
      'hi\u001b[2J\u001b[H\u001b]0;PWNED\u0007\u001b]52;c;ZWNobyBwd25lZA==\u0007\u001b[8m(hidden)';
    expect(escapeLine(hostile)).toBe('hi^[[2J^[[H^[]0;PWNED^G^[]52;c;ZWNobyBwd25lZA==^G^[[8m(hidden)');
  });

  it('escapes every C0 and C1 control, DEL, bidi control and line separator, and keeps the rest', () => {
    for (let code = 0; code < 0x3000; code++) {
      const c = String.fromCharCode(code);
      const shown = escapeLine(`a${c}b`);
      expect(shown).not.toMatch(ACTIVE);
      if (!ACTIVE.test(c)) expect(shown).toBe(`a${c}b`);
    }
    expect(escapeLine('\r\n\t\u007f')).toBe('^M^J^I^?');
    expect(escapeLine('\u009b31m \u0085')).toBe('\\u009b31m \\u0085');
    expect(escapeLine('Bob\u202eevil\u2066')).toBe('Bob\\u202eevil\\u2066');
  });

  it('leaves names in any script and emoji sequences alone', () => {
    for (const name of ['Ana Gómez', 'Владимир', '山田太郎', 'مريم', '👨‍👩‍👧 family', '🏳️‍🌈']) {
      expect(escapeLine(name)).toBe(name);
    }
  });
});

describe('escapeText', () => {
  it('keeps line feeds and tabs, indenting every line after the first', () => {
    expect(escapeText('one\n\ttwo\nthree', '    ')).toBe('one\n    \ttwo\n    three');
  });

  it('escapes a carriage return, which could overwrite the start of the line with a forged sender', () => {
    expect(escapeText('ok\radmin: re-enter your password')).toBe('ok^Madmin: re-enter your password');
  });

  it('leaves no active character but line feeds and tabs', () => {
    let all = '';
    for (let code = 0; code < 0x3000; code++) all += String.fromCharCode(code);
    expect(escapeText(all).replace(/[\n\t]/g, '')).not.toMatch(ACTIVE);
  });
});

describe('preview', () => {
  it('is one line, cut at whole code points, escaped', () => {
    expect(preview('a\nb  c', 10)).toBe('a b c');
    expect(preview('😀😀😀', 2)).toBe('😀😀…');
    expect(preview('\u001b[2Jx', 10)).toBe('^[[2Jx');
  });
});
