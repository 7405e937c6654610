/**
 * Link previews in the web app: typing a URL shows the server's preview above the composer
 * (after a pause), × removes it, and a message sent with it shows the card in the sender's and
 * the recipient's tabs, as a link opening in a new tab. A hostile page title shows as text.
 * The page is served here; the server runs with the test-only switch that lets previews
 * reach this machine.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import {
  SERVER_ARGS,
  bubble,
  launch,
  newTab,
  openToAllInPage,
  requireBuild,
  signUp,
  startDirect,
  uname,
} from './helpers.js';

const HOSTILE_TITLE = '<img src=x onerror="window.__xss=1">Evil & co';
const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

let pages: Server;
let pagesUrl: string;
let server: ServerHandle;
let browser: Browser;

beforeAll(async () => {
  requireBuild();
  pages = createServer((req, res) => {
    const title = req.url === '/evil' ? HOSTILE_TITLE : 'A friendly page';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      `<html><head><meta property="og:title" content="${escape(title)}">` +
        '<meta property="og:description" content="All about friendly things">' +
        '<meta property="og:site_name" content="Friendly Site"></head><body></body></html>',
    );
  });
  pages.listen(0, '127.0.0.1');
  await once(pages, 'listening');
  pagesUrl = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
  server = await startServer({ args: SERVER_ARGS, env: { PARLEY_TEST_PREVIEW_ALLOW_PRIVATE: '1' } });
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  server?.cleanup();
  pages?.close();
});

describe('link previews', () => {
  it('shows the card while composing, removes it with ×, and sends it to both sides', async () => {
    const [ana, ben] = [uname('ana'), uname('ben')];
    const b = await newTab(browser, server.url);
    await signUp(b.page, ben, 'Ben Reader');
    await openToAllInPage(b.page);
    const a = await newTab(browser, server.url);
    await signUp(a.page, ana, 'Ana Sender');
    await openToAllInPage(a.page);
    await startDirect(a.page, ben);

    // Typing a URL shows the card; × removes it and the message goes without one.
    const composer = a.page.getByTestId('composer');
    await composer.fill(`no card please ${pagesUrl}/plain`);
    const card = a.page.getByTestId('composer-preview');
    await card.waitFor();
    expect(await card.textContent()).toContain('A friendly page');
    expect(await card.textContent()).toContain('Friendly Site');
    await a.page.getByRole('button', { name: 'Remove preview' }).click();
    expect(await card.count()).toBe(0);
    await composer.press('Enter');

    // With the card kept, the message carries it.
    await composer.fill(`have a look ${pagesUrl}/page`);
    await card.waitFor();
    await composer.press('Enter');
    expect(await card.count()).toBe(0);

    await b.page.locator(`[data-testid="conversation"][data-name="Ana Sender"]`).click();
    for (const page of [a.page, b.page]) {
      // Both messages are shown; only the second has a card.
      await bubble(page, 'have a look').waitFor();
      await bubble(page, 'no card please').waitFor();
      const shown = page.getByTestId('message-preview');
      expect(await shown.count()).toBe(1);
      expect(await shown.getAttribute('href')).toBe(`${pagesUrl}/page`);
      expect(await shown.getAttribute('target')).toBe('_blank');
      expect(await shown.getAttribute('rel')).toBe('noopener noreferrer');
      expect(await shown.locator('.link-preview-title').textContent()).toBe('A friendly page');
      expect(await shown.locator('.link-preview-site').textContent()).toBe('Friendly Site');
      expect(await shown.locator('.link-preview-description').textContent()).toBe(
        'All about friendly things',
      );
    }

    // A hostile title is text: no element made of it, nothing run.
    await composer.fill(`${pagesUrl}/evil`);
    await card.waitFor();
    expect(await card.locator('.link-preview-title').textContent()).toBe(HOSTILE_TITLE);
    await composer.press('Enter');
    for (const page of [a.page, b.page]) {
      const evil = page.getByTestId('message-preview').filter({ hasText: 'Evil & co' });
      await evil.waitFor();
      expect(await evil.locator('.link-preview-title').textContent()).toBe(HOSTILE_TITLE);
      expect(await evil.locator('img').count()).toBe(0);
      expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    }
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });
});
