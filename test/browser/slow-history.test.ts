/**
 * A message sent in a chat whose first history page is still on its way (a slow network, a
 * busy server) stays on screen: the page, read before the message was stored, must not
 * replace it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { eventually } from '../helpers/sdk.js';
import {
  SERVER_ARGS,
  bubble,
  launch,
  newTab,
  row,
  sendMessage,
  signUp,
  startDirect,
  uname,
} from './helpers.js';

describe('a slow first history page', () => {
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

  it('keeps the messages sent and received while it loads', async () => {
    const [vera, walt] = [uname('vera'), uname('walt')];
    const w = await newTab(browser, server.url);
    await signUp(w.page, walt, 'Walt Slow');
    const v = await newTab(browser, server.url);
    await signUp(v.page, vera, 'Vera Slow');
    // Every history page reaches Vera's app 2 s late; it was read when it was asked for.
    await v.page.route('**/v1/conversations/*/messages*', async (route) => {
      if (route.request().method() !== 'GET') return route.continue();
      const response = await route.fetch();
      await new Promise((r) => setTimeout(r, 2000));
      await route.fulfill({ response });
    });
    await startDirect(v.page, walt);
    await sendMessage(v.page, 'Sent before the page came');
    const mine = bubble(v.page, 'Sent before the page came');
    await eventually(async () => (await mine.getAttribute('data-status')) === 'delivered', 'delivered tick');
    // Walt answers; Vera sees both, once each, in order.
    await row(w.page, 'Vera Slow').click();
    await sendMessage(w.page, 'And an answer');
    await bubble(v.page, 'And an answer').waitFor();
    const texts = await v.page.locator('[data-testid="message"] .text').allTextContents();
    expect(texts.map((t) => t.replace(/\d{1,2}:\d{2}.*$/, '').trim())).toEqual([
      'Sent before the page came',
      'And an answer',
    ]);
  });
});
