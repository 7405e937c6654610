/**
 * docs/protocol.md must document every code of the error registry, with the registry's HTTP
 * status, WebSocket behaviour and retryability, in its error table (one row per code, the code in
 * backticks in the first column: | `invalid_json` | 400 | error frame | no | ... |).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERRORS } from '@parley/protocol';
import type { ErrorCode } from '@parley/protocol';

const DOC_URL = new URL('../../../docs/protocol.md', import.meta.url);
const doc = readFileSync(DOC_URL, 'utf8');

interface Row {
  line: number;
  code: string;
  cells: string[];
}

/** Every Markdown table row whose first cell is one backticked identifier. */
function tableRows(markdown: string): Row[] {
  const rows: Row[] = [];
  markdown.split('\n').forEach((text, i) => {
    const t = text.trim();
    if (!t.startsWith('|')) return;
    const cells = t
      .replace(/^\|/, '')
      .replace(/\|$/, '')
      .split('|')
      .map((c) => c.trim());
    const m = /^`([a-z][a-z0-9_]*)`$/.exec(cells[0] ?? '');
    if (m) rows.push({ line: i + 1, code: m[1] as string, cells });
  });
  return rows;
}

/** Rows of the error table: the table whose rows start with registry codes and an HTTP status. */
const errorRows = tableRows(doc).filter((r) => /^\d{3}$/.test(r.cells[1] ?? ''));
const isCode = (c: string): c is ErrorCode => Object.hasOwn(ERRORS, c);

describe('docs/protocol.md error table', () => {
  it('exists', () => {
    expect(errorRows.length, 'no table rows like | `code` | 400 | ... | in docs/protocol.md').toBeGreaterThan(
      0,
    );
  });

  it('lists every registry code in backticks', () => {
    const listed = new Set(errorRows.map((r) => r.code));
    const missing = ERROR_CODES.filter((code) => !listed.has(code));
    expect(missing, `codes missing from the error table of docs/protocol.md: ${missing.join(', ')}`).toEqual(
      [],
    );
  });

  it('lists only registry codes, each once', () => {
    const unknown = errorRows.filter((r) => !isCode(r.code)).map((r) => `${r.code} (line ${r.line})`);
    expect(unknown, `codes in docs/protocol.md that are not in the registry: ${unknown.join(', ')}`).toEqual(
      [],
    );
    const seen = new Map<string, number>();
    for (const r of errorRows) seen.set(r.code, (seen.get(r.code) ?? 0) + 1);
    const repeated = [...seen].filter(([, n]) => n > 1).map(([c]) => c);
    expect(repeated, `codes listed more than once: ${repeated.join(', ')}`).toEqual([]);
  });

  it('gives every code the registry HTTP status', () => {
    const wrong = errorRows
      .filter((r) => isCode(r.code) && Number(r.cells[1]) !== ERRORS[r.code].status)
      .map((r) => `${r.code}: doc says ${r.cells[1]}, registry ${ERRORS[r.code as ErrorCode].status}`);
    expect(wrong, `HTTP statuses that disagree with the registry:\n${wrong.join('\n')}`).toEqual([]);
  });

  it('gives every code the registry WebSocket behaviour', () => {
    const wrong = errorRows
      .filter((r) => isCode(r.code))
      .flatMap((r) => {
        const ws = ERRORS[r.code as ErrorCode].ws;
        const cell = r.cells[2] ?? '';
        const ok = ws === 'frame' ? /\bframe\b/.test(cell) : new RegExp(`\\b${ws}\\b`).test(cell);
        return ok
          ? []
          : [`${r.code}: doc says "${cell}", registry ${ws === 'frame' ? 'error frame' : `close ${ws}`}`];
      });
    expect(wrong, `WebSocket behaviours that disagree with the registry:\n${wrong.join('\n')}`).toEqual([]);
  });

  it('gives every code the registry retryability', () => {
    const wrong = errorRows
      .filter((r) => isCode(r.code))
      .flatMap((r) => {
        const cell = (r.cells[3] ?? '').toLowerCase();
        const doc = cell === 'yes' ? true : cell === 'no' ? false : undefined;
        const spec = ERRORS[r.code as ErrorCode].retryable;
        return doc === spec ? [] : [`${r.code}: doc says "${cell}", registry ${spec ? 'yes' : 'no'}`];
      });
    expect(wrong, `retryability that disagrees with the registry:\n${wrong.join('\n')}`).toEqual([]);
  });

  it('documents every close code the registry uses', () => {
    const closeCodes = [...new Set(ERROR_CODES.map((c) => ERRORS[c].ws).filter((ws) => ws !== 'frame'))];
    const missing = closeCodes.filter((ws) => !new RegExp(`^\\|\\s*${ws}\\s*\\|`, 'm').test(doc));
    expect(missing, `close codes without a row in the close-code table: ${missing.join(', ')}`).toEqual([]);
  });
});
