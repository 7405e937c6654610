/**
 * Typing as a person does: focus a field by clicking or tapping it, then key presses, so the
 * app sees every keystroke (and its re-renders) the way it does with a real keyboard.
 */
import type { BrowserContextOptions, Locator, Page } from 'playwright-core';
import { PASSWORD } from './helpers.js';

export const ANDROID_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36';

/** A 390×844 touch phone. */
export const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
  userAgent: ANDROID_UA,
};

/** Click (or tap, on a touch page) a field, then type `text` key by key. */
export async function typeInto(field: Locator, text: string): Promise<void> {
  const page = field.page();
  const touch = await page.evaluate(() => navigator.maxTouchPoints > 0);
  if (touch) await field.tap();
  else await field.click();
  await page.keyboard.type(text);
}

/** Log in through the form by keyboard; ends on the chat list. */
export async function logInByKeyboard(page: Page, username: string, password = PASSWORD): Promise<void> {
  await typeInto(page.getByLabel('Username'), username);
  await typeInto(page.getByLabel('Password'), password);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Chats' }).waitFor();
}

/** Resolves with whether the page runs a trivial script within `ms` (a hung tab does not). */
export async function responsive(page: Page, ms = 20_000): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([page.evaluate(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
