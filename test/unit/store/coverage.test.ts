/**
 * Every store method has a conformance test: each method declared in the store's interfaces
 * must be called (`.name(`) by at least one store test file, so a new method without one
 * fails here instead of going untested on some adapter.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const STORE_DIR = new URL('../../../packages/server/src/store/', import.meta.url);
const TEST_DIR = new URL('./', import.meta.url);

function tsFiles(dir: URL): URL[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => new URL(f, dir));
}

/** Method names declared in the `export interface` blocks of a source text. */
function interfaceMethods(source: string): string[] {
  const names: string[] = [];
  for (const block of source.matchAll(/^export interface \w+[^{]*\{\n([\s\S]*?)^\}/gm)) {
    for (const m of (block[1] ?? '').matchAll(/^ {2}(?:readonly\s+)?(\w+)\??\s*[(<]/gm)) {
      if (m[1]) names.push(m[1]);
    }
  }
  return names;
}

describe('store conformance coverage', () => {
  it('finds the interface methods it checks', () => {
    expect(
      interfaceMethods('export interface A {\n  x: number;\n  f(a: string): void;\n  g<T>(): T;\n}\n'),
    ).toEqual(['f', 'g']);
  });

  it('calls every store method from at least one store test', () => {
    const sources = [new URL('store.ts', STORE_DIR), ...tsFiles(new URL('ports/', STORE_DIR))].map((u) =>
      readFileSync(u, 'utf8'),
    );
    const methods = [...new Set(sources.flatMap(interfaceMethods))];
    // The Store interface alone has well over fifty methods: a parse that finds few is broken.
    expect(methods.length).toBeGreaterThan(50);
    const self = fileURLToPath(import.meta.url);
    const tests = tsFiles(TEST_DIR)
      .filter((u) => u.pathname.endsWith('.test.ts') && fileURLToPath(u) !== self)
      .map((u) => readFileSync(u, 'utf8'))
      .join('\n');
    const missing = methods.filter((name) => !tests.includes(`.${name}(`));
    expect(missing).toEqual([]);
  });
});
