#!/usr/bin/env node
/**
 * Makes sure the browser tests have a Chromium before `npm test` starts: a no-op when it is
 * there; otherwise installs Debian's `chromium` when it can (root and apt-get), or stops at
 * once with one line saying what to install.
 *
 * The browser tests launch `CHROMIUM_PATH`, default `/usr/bin/chromium` (test/browser/helpers.ts).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where Debian's `chromium` package puts the browser, and where the tests look by default. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/** The commands that install Debian's Chromium. */
export const INSTALL_COMMANDS = [
  ['apt-get', 'update', '-qq'],
  ['apt-get', 'install', '-y', '-qq', 'chromium'],
];

/**
 * What to do, from the facts alone. Only the default path is installed: Debian's package
 * cannot put Chromium at a path the user chose with `CHROMIUM_PATH`.
 *
 * @param {{ chromiumPath: string | undefined; present: boolean; root: boolean; aptGet: boolean }} facts
 * @returns {{ action: 'ok' } | { action: 'install' } | { action: 'fail'; line: string }}
 */
export function decide(facts) {
  if (facts.present) return { action: 'ok' };
  if (facts.chromiumPath === undefined && facts.root && facts.aptGet) return { action: 'install' };
  return { action: 'fail', line: missingLine(facts.chromiumPath) };
}

/**
 * The one line printed when Chromium is missing and was not installed.
 *
 * @param {string | undefined} chromiumPath `CHROMIUM_PATH`, when set
 * @returns {string}
 */
export function missingLine(chromiumPath) {
  return chromiumPath === undefined
    ? `npm test: Chromium is missing at ${DEFAULT_CHROMIUM}; install it with: sudo apt-get install chromium (or set CHROMIUM_PATH)`
    : `npm test: Chromium is missing at ${chromiumPath} (CHROMIUM_PATH); point CHROMIUM_PATH at a Chromium, or unset it and install Debian's: sudo apt-get install chromium`;
}

/** @param {string} path */
function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** @param {string} command @param {string | undefined} searchPath */
function onPath(command, searchPath) {
  return (searchPath ?? '').split(delimiter).some((dir) => dir !== '' && isExecutable(join(dir, command)));
}

/**
 * Check, install if possible, and return the exit code.
 *
 * @param {NodeJS.ProcessEnv} env
 * @returns {number}
 */
export function ensureChromium(env) {
  const chromiumPath = env.CHROMIUM_PATH === '' ? undefined : env.CHROMIUM_PATH;
  const path = chromiumPath ?? DEFAULT_CHROMIUM;
  const decision = decide({
    chromiumPath,
    present: isExecutable(path),
    root: process.getuid?.() === 0,
    aptGet: onPath('apt-get', env.PATH),
  });
  if (decision.action === 'ok') return 0;
  if (decision.action === 'install') {
    console.error(`npm test: Chromium is missing at ${path}; installing Debian's chromium with apt-get`);
    for (const [command, ...args] of INSTALL_COMMANDS) {
      const run = spawnSync(/** @type {string} */ (command), args, {
        stdio: 'inherit',
        env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      if (run.status !== 0) break;
    }
    if (isExecutable(path)) return 0;
  }
  console.error(missingLine(chromiumPath));
  return 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = ensureChromium(process.env);
}
