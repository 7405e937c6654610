/**
 * A new user's first minutes: the sign-up form states the username and password rules before
 * anything is typed, the empty chat list offers a labelled button to start a chat, and the
 * note-to-self chat (a 1:1 with yourself) says it is yours.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { PASSWORD, bubble, newTab, row, serverAndBrowser, uname } from './helpers.js';
import { typeInto } from './keyboard.js';

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

/** Sign up through the form by keyboard; ends on the chat list. */
async function signUpByKeyboard(page: Page, username: string, displayName: string): Promise<void> {
  await page.getByRole('button', { name: 'Create an account' }).click();
  await typeInto(page.getByLabel('Username', { exact: true }), username);
  await typeInto(page.getByLabel('Display name (optional)'), displayName);
  await typeInto(page.getByLabel('Password', { exact: true }), PASSWORD);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Chats' }).waitFor();
}

describe('first run', () => {
  const env = serverAndBrowser();

  it('states the username and password rules before anything is typed', async () => {
    const t = await newTab(env.browser, env.server.url);
    const page = t.page;
    await page.getByRole('button', { name: 'Create an account' }).click();
    const rules = '3-32 characters of a-z, 0-9, "_" and "." (capitals become lowercase).';
    await expect.poll(() => description(page, 'Username')).toBe(rules);
    expect(await page.getByText(rules).isVisible()).toBe(true);
    expect(await description(page, 'Password')).toBe('At least 8 characters.');
    expect(await page.getByText('At least 8 characters.').isVisible()).toBe(true);
    await t.context.close();
  });

  it('offers a labelled button to start the first chat', async () => {
    const t = await newTab(env.browser, env.server.url);
    const page = t.page;
    await signUpByKeyboard(page, uname('ned'), 'Ned New');
    await page.getByText('No chats yet.').waitFor();
    // A button with its name in words, not a pointer to one of the icons above.
    const start = page.getByRole('button', { name: 'Start a chat' });
    expect(await start.textContent()).toBe('Start a chat');
    await start.click();
    await page.getByRole('heading', { name: 'New chat' }).waitFor();
    expect(t.errors).toEqual([]);
    await t.context.close();
  });

  it('labels the note-to-self chat as mine', async () => {
    const me = uname('nia');
    const t = await newTab(env.browser, env.server.url);
    const page = t.page;
    await signUpByKeyboard(page, me, 'Nia Notes');
    await page.getByRole('button', { name: 'New chat', exact: true }).first().click();
    await page.getByRole('heading', { name: 'New chat' }).waitFor();
    await page.keyboard.type(me);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('chat-name').textContent()).toBe('Nia Notes (You)');
    expect(await page.getByTestId('chat-status').textContent()).toBe('Message yourself');
    await typeInto(page.getByTestId('composer'), 'Buy milk');
    await page.keyboard.press('Enter');
    await bubble(page, 'Buy milk').waitFor();
    await expect
      .poll(() => row(page, 'Nia Notes').locator('.conv-name').textContent())
      .toBe('Nia Notes (You)');
    expect(t.errors).toEqual([]);
    await t.context.close();
  });
});
