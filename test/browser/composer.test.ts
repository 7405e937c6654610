/**
 * The composer: Enter sends with a keyboard and makes a new line on a touch screen (whose
 * keyboard has no Shift+Enter); drafts outlive a reload and stay with their account; the
 * text of a message the server refuses comes back with the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { eventually, newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';
import { SERVER_ARGS, bubble, launch, newTab, row, uname } from './helpers.js';
import { PHONE, logInByKeyboard, typeInto } from './keyboard.js';

/** The draft of a conversation as stored on this device for `userId`. */
function storedDraft(page: Page, userId: string, conversationId: string): Promise<unknown> {
  return page.evaluate(
    ([user, id]) =>
      new Promise((resolve) => {
        const open = indexedDB.open(`parley-${user}`);
        open.onerror = () => resolve(undefined);
        open.onsuccess = () => {
          const db = open.result;
          try {
            const get = db
              .transaction('drafts')
              .objectStore('drafts')
              .get(id as string);
            get.onsuccess = () => {
              db.close();
              resolve(get.result);
            };
            get.onerror = () => resolve(undefined);
          } catch {
            db.close();
            resolve(undefined);
          }
        };
      }),
    [userId, conversationId],
  );
}

describe('composer', () => {
  let server: ServerHandle;
  let browser: Browser;
  let ana: TestUser;
  let bob: TestUser;
  let directId: string;

  beforeAll(async () => {
    server = await startServer({ args: SERVER_ARGS });
    browser = await launch();
    ana = await newUser(server.url, uname('ana'));
    await openToAll(ana);
    await ana.http.updateMe({ displayName: 'Ana Keys' });
    bob = await newUser(server.url, uname('bob'));
    await openToAll(bob);
    await bob.http.updateMe({ displayName: 'Bob Keys' });
    directId = (await ana.http.direct({ username: bob.username })).id;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  async function lastText(): Promise<string | undefined> {
    const { messages } = await bob.http.history(directId, { limit: 1 });
    return messages[messages.length - 1]?.text;
  }

  it('sends on Enter and breaks the line on Shift+Enter with a keyboard', async () => {
    const t = await newTab(browser, server.url);
    const page = t.page;
    await logInByKeyboard(page, ana.username);
    await row(page, 'Bob Keys').click();
    const composer = page.getByTestId('composer');
    await typeInto(composer, 'first line');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('second line');
    expect(await composer.inputValue()).toBe('first line\nsecond line');
    await page.keyboard.press('Enter');
    await bubble(page, 'second line').waitFor();
    expect(await composer.inputValue()).toBe('');
    await eventually(async () => (await lastText()) === 'first line\nsecond line', 'sent from desktop');
    await t.context.close();
  });

  it('breaks the line on Enter and sends with the button on a touch screen', async () => {
    const t = await newTab(browser, server.url, PHONE);
    const page = t.page;
    await logInByKeyboard(page, ana.username);
    await row(page, 'Bob Keys').tap();
    const composer = page.getByTestId('composer');
    await typeInto(composer, 'from my phone');
    await page.keyboard.press('Enter');
    await page.keyboard.type('on two lines');
    expect(await composer.inputValue()).toBe('from my phone\non two lines');
    expect(await page.getByTestId('message').filter({ hasText: 'on two lines' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Send' }).tap();
    await bubble(page, 'on two lines').waitFor();
    expect(await composer.inputValue()).toBe('');
    await eventually(async () => (await lastText()) === 'from my phone\non two lines', 'sent from phone');
    await t.context.close();
  });

  it('keeps a draft across a reload, for its own account only', async () => {
    const t = await newTab(browser, server.url);
    const page = t.page;
    await logInByKeyboard(page, ana.username);
    await row(page, 'Bob Keys').click();
    await typeInto(page.getByTestId('composer'), 'a thought to finish later');
    await expect
      .poll(() => storedDraft(page, ana.id, directId), { timeout: 20_000 })
      .toBe('a thought to finish later');

    await page.reload();
    await expect
      .poll(() => page.getByTestId('composer').inputValue(), { timeout: 20_000 })
      .toBe('a thought to finish later');
    // Back in the list, the chat is still there; its draft too.
    await page.goBack();
    await row(page, 'Bob Keys').waitFor();
    await row(page, 'Bob Keys').click();
    expect(await page.getByTestId('composer').inputValue()).toBe('a thought to finish later');

    // Bob logs in on the same browser: the same conversation, no draft of Ana's.
    await page.goBack();
    await page.getByRole('button', { name: 'Settings and devices' }).click();
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.getByRole('heading', { name: 'Log in to Parley' }).waitFor();
    await logInByKeyboard(page, bob.username);
    await row(page, 'Ana Keys').click();
    await bubble(page, 'on two lines').waitFor();
    expect(await page.getByTestId('composer').inputValue()).toBe('');
    expect(t.errors).toEqual([]);
    await t.context.close();
  });

  it('gives back the text of a message the server refuses, with the reason', async () => {
    const carol = await newUser(server.url, uname('carol'));
    await openToAll(carol);
    await carol.http.updateMe({ displayName: 'Carol Keys' });
    const id = (await carol.http.direct({ username: ana.username })).id;
    await carol.http.send(id, { clientId: 'hello', text: 'Hello Ana' });
    await ana.http.block({ username: carol.username });

    const t = await newTab(browser, server.url);
    const page = t.page;
    await logInByKeyboard(page, carol.username);
    await row(page, 'Ana Keys').click();
    await bubble(page, 'Hello Ana').waitFor();
    const composer = page.getByTestId('composer');
    await typeInto(composer, 'Are you there?');
    await page.keyboard.press('Enter');
    await expect.poll(() => composer.inputValue(), { timeout: 20_000 }).toBe('Are you there?');
    await expect
      .poll(() => page.getByTestId('send-error').textContent(), { timeout: 20_000 })
      .toBe('Message not sent: You cannot message this user.');
    expect(await page.getByTestId('message').filter({ hasText: 'Are you there?' }).count()).toBe(0);
    // Editing the text dismisses the reason.
    await page.keyboard.type(' Hello?');
    expect(await page.getByTestId('send-error').count()).toBe(0);
    expect(await composer.inputValue()).toBe('Are you there? Hello?');
    await t.context.close();
  });
});
