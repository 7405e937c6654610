// Types of ensure-chromium.js, for the tests that import it.

/** Where Debian's `chromium` package puts the browser, and where the tests look by default. */
export declare const DEFAULT_CHROMIUM: string;

/** The commands that install Debian's Chromium. */
export declare const INSTALL_COMMANDS: string[][];

export type Decision = { action: 'ok' } | { action: 'install' } | { action: 'fail'; line: string };

/** What to do, from the facts alone; only the default path is ever installed. */
export declare function decide(facts: {
  /** `CHROMIUM_PATH`, when set. */
  chromiumPath: string | undefined;
  /** Whether an executable is at that path (or the default one). */
  present: boolean;
  root: boolean;
  /** Whether `apt-get` is on PATH. */
  aptGet: boolean;
}): Decision;

/** The one line printed when Chromium is missing and was not installed. */
export declare function missingLine(chromiumPath: string | undefined): string;

/** Check, install if possible, and return the exit code. */
export declare function ensureChromium(env: NodeJS.ProcessEnv): number;
