/**
 * Browser tests drive the real web app, served by the real server, in Debian's Chromium
 * through playwright-core (nothing is downloaded). Screens are saved under test-artifacts/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, BrowserContextOptions, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { ROOT, startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'browser');
export const WEB_DIST = join(ROOT, 'packages', 'web', 'dist', 'index.html');

/** Test servers: short heartbeats, so that presence changes within seconds of a tab closing. */
export const SERVER_ARGS = ['--heartbeat-ms', '1000', '--heartbeat-timeout-ms', '3000'];

export const PASSWORD = 'password123';

export function requireBuild(): void {
  if (!existsSync(WEB_DIST)) {
    throw new Error(`The web app is not built (${WEB_DIST} is missing): run \`npm run build\` first`);
  }
}

export async function launch(): Promise<Browser> {
  requireBuild();
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * One server (with SERVER_ARGS plus `args`) and one browser for the tests of a file, started
 * before them and closed after. Read `env.server` and `env.browser` inside the tests.
 */
export function serverAndBrowser(args: string[] = []): { server: ServerHandle; browser: Browser } {
  const env = {} as { server: ServerHandle; browser: Browser };
  beforeAll(async () => {
    env.server = await startServer({ args: [...SERVER_ARGS, ...args] });
    env.browser = await launch();
  });
  afterAll(async () => {
    await env.browser?.close();
    await env.server?.stop();
    env.server?.cleanup();
  });
  return env;
}

export interface Tab {
  page: Page;
  context: BrowserContext;
  /** Uncaught page errors and console errors (a CSP violation is one). */
  errors: string[];
}

/** A new browser context (a separate "browser": own storage) with one page. */
export async function newTab(
  browser: Browser,
  url: string,
  options: BrowserContextOptions = {},
): Promise<Tab> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  const page = await context.newPage();
  const errors = watch(page);
  await page.goto(url);
  return { page, context, errors };
}

/** Another page in the same context (a second tab of the same browser profile). */
export async function anotherTab(tab: Tab, url: string): Promise<Tab> {
  const page = await tab.context.newPage();
  const errors = watch(page);
  await page.goto(url);
  return { page, context: tab.context, errors };
}

function watch(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (
      m.type() === 'error' &&
      !/Failed to load resource|ERR_INTERNET_DISCONNECTED|WebSocket/.test(m.text())
    ) {
      errors.push(`console: ${m.text()}`);
    }
  });
  return errors;
}

/** Sign up through the app's form; ends on the chat list. */
export async function signUp(page: Page, username: string, displayName: string): Promise<void> {
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Display name (optional)').fill(displayName);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Chats' }).waitFor();
}

export async function logIn(page: Page, username: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Chats' }).waitFor();
}

/** Start a 1:1 with `username` from the "New chat" panel; ends in the open chat. */
export async function startDirect(page: Page, username: string): Promise<void> {
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByRole('button', { name: 'Start chat' }).click();
  await page.getByTestId('composer').waitFor();
}

export async function openChat(page: Page, name: string): Promise<void> {
  await page.locator(`[data-testid="conversation"][data-name="${name}"]`).click();
  await page.getByTestId('composer').waitFor();
}

export async function sendMessage(page: Page, text: string): Promise<void> {
  const composer = page.getByTestId('composer');
  await composer.fill(text);
  // On a touch screen Enter makes a new line: the Send button sends.
  if (await page.evaluate(() => matchMedia('(pointer: coarse)').matches)) {
    await page.getByRole('button', { name: 'Send', exact: true }).tap();
  } else {
    await composer.press('Enter');
  }
}

/** The conversation row for `name` in the chat list. */
export function row(page: Page, name: string) {
  return page.locator(`[data-testid="conversation"][data-name="${name}"]`);
}

/** A message bubble by its exact text. */
export function bubble(page: Page, text: string) {
  return page.locator('[data-testid="message"]').filter({ has: page.locator('.text', { hasText: text }) });
}

/**
 * The message with this seq, scrolled into view: the history only renders the rows near the
 * screen, so it scrolls toward the message half a screen at a time until it is rendered.
 */
export async function revealMessage(page: Page, seq: number): Promise<Locator> {
  const message = page.locator(`[data-testid="message"][data-seq="${seq}"]`);
  await page.locator('[data-testid="message"]').first().waitFor();
  // Older pages load as the list nears its top: give each step time to render what it asked for.
  for (let i = 0; i < 400 && (await message.count()) === 0; i++) {
    if (i > 0) await page.waitForTimeout(50);
    await page.locator('.messages').evaluate((el, want) => {
      const seqs = Array.from(el.querySelectorAll('[data-testid="message"]'), (m) =>
        Number(m.getAttribute('data-seq')),
      );
      const up = seqs.length > 0 && Math.min(...seqs) > want;
      el.scrollTop += ((up ? -1 : 1) * el.clientHeight) / 2;
    }, seq);
  }
  await message.scrollIntoViewIfNeeded();
  return message;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

let counter = 0;
/** A fresh username (the server lower-cases them; 3-32 of a-z, 0-9, _ and .). */
export function uname(prefix: string): string {
  counter++;
  return `${prefix}_${Date.now().toString(36)}${counter}`.slice(0, 32);
}

/**
 * Let anyone message the user signed in on `page` without a message request and add them to
 * groups (privacy `everyone`), for tests about something else that have strangers talk.
 */
export async function openToAllInPage(page: Page): Promise<void> {
  const status = await page.evaluate(async () => {
    const session = JSON.parse(localStorage.getItem('parley.session') ?? '{}') as { token?: string };
    const res = await fetch('/v1/me/privacy', {
      method: 'PATCH',
      headers: { authorization: `Bearer ${session.token ?? ''}`, 'content-type': 'application/json' },
      body: JSON.stringify({ directMessages: 'everyone', groupAdds: 'everyone' }),
    });
    return res.status;
  });
  if (status !== 200) throw new Error(`PATCH /v1/me/privacy answered ${status}`);
}
