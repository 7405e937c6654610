/**
 * A new user's first minutes: the sign-up form states the username and password rules before
 * anything is typed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { SERVER_ARGS, launch, newTab } from './helpers.js';

/** The text of the elements that describe a field (aria-describedby). */
function description(page: Page, label: string): Promise<string> {
  return page.getByLabel(label, { exact: true }).evaluate((el) =>
    (el.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' ')
      .trim(),
  );
}

describe('first run', () => {
  let server: ServerHandle;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer({ args: SERVER_ARGS });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  it('states the username and password rules before anything is typed', async () => {
    const t = await newTab(browser, server.url);
    const page = t.page;
    await page.getByRole('button', { name: 'Create an account' }).click();
    const rules = '3-32 characters of a-z, 0-9, "_" and "." (capitals become lowercase).';
    await expect.poll(() => description(page, 'Username')).toBe(rules);
    expect(await page.getByText(rules).isVisible()).toBe(true);
    expect(await description(page, 'Password')).toBe('At least 8 characters.');
    expect(await page.getByText('At least 8 characters.').isVisible()).toBe(true);
    await t.context.close();
  });
});
