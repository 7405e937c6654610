import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CHROMIUM, decide, missingLine } from '../../../scripts/ensure-chromium.js';
import { ROOT } from '../../helpers/server.js';

const SCRIPT = join(ROOT, 'scripts/ensure-chromium.js');
const dir = mkdtempSync(join(tmpdir(), 'parley-chromium-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run the script as `npm test` does, with only the given environment. */
function run(env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [SCRIPT], { env, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ensure-chromium decisions', () => {
  const missingDefault = { chromiumPath: undefined, present: false };

  it('does nothing when Chromium is there', () => {
    expect(decide({ chromiumPath: undefined, present: true, root: false, aptGet: false })).toEqual({
      action: 'ok',
    });
    expect(decide({ chromiumPath: '/opt/chromium', present: true, root: true, aptGet: true })).toEqual({
      action: 'ok',
    });
  });

  it('installs Debian chromium as root with apt-get', () => {
    expect(decide({ ...missingDefault, root: true, aptGet: true })).toEqual({ action: 'install' });
  });

  it('names the package to install when not root or without apt-get', () => {
    const fail = { action: 'fail', line: missingLine(undefined) };
    expect(decide({ ...missingDefault, root: false, aptGet: true })).toEqual(fail);
    expect(decide({ ...missingDefault, root: true, aptGet: false })).toEqual(fail);
    expect(missingLine(undefined)).toBe(
      `npm test: Chromium is missing at ${DEFAULT_CHROMIUM}; install it with: sudo apt-get install chromium (or set CHROMIUM_PATH)`,
    );
  });

  it('never installs for a CHROMIUM_PATH of its own, which apt-get cannot fill', () => {
    expect(decide({ chromiumPath: '/opt/chromium', present: false, root: true, aptGet: true })).toEqual({
      action: 'fail',
      line: missingLine('/opt/chromium'),
    });
    expect(missingLine('/opt/chromium')).toContain('Chromium is missing at /opt/chromium (CHROMIUM_PATH)');
  });
});

describe('ensure-chromium script', () => {
  it('exits 0 silently when CHROMIUM_PATH is an executable', () => {
    const fake = join(dir, 'chromium');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    expect(run({ CHROMIUM_PATH: fake, PATH: '' })).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('stops at once with one line and exit 1 when CHROMIUM_PATH is missing', () => {
    const missing = join(dir, 'no-such-chromium');
    const r = run({ CHROMIUM_PATH: missing, PATH: dir });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${missingLine(missing)}\n`);
  });
});
