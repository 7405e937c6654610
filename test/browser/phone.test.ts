/**
 * A phone (390×844, touch): the list and the chat are separate screens with back
 * navigation, touch targets are at least 44 px, and contacts, blocking, drafts and the
 * device list work there too.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { eventually, newDevice, newUser, openToAll } from '../helpers/sdk.js';
import {
  bubble,
  newTab,
  openToAllInPage,
  row,
  screenshot,
  sendMessage,
  serverAndBrowser,
  signUp,
  uname,
} from './helpers.js';

const ANDROID_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36';

/** Visible controls smaller than 44×44 px (links inside message text excepted). */
async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const small: string[] = [];
    for (const el of Array.from(
      document.querySelectorAll<HTMLElement>('button, a[href], input, textarea, select'),
    )) {
      if (el.closest('.text') !== null) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (getComputedStyle(el).visibility === 'hidden') continue;
      if (r.width < 44 || r.height < 44) {
        small.push(
          `${el.tagName} "${el.getAttribute('aria-label') ?? el.textContent ?? ''}" ${r.width}x${r.height}`,
        );
      }
    }
    return small;
  });
}

describe('phone', () => {
  const env = serverAndBrowser();

  it('walks through the app on a 390×844 touch screen', async () => {
    const me = uname('pia');
    const zoe = await newUser(env.server.url, uname('zoe'));
    await openToAll(zoe);
    await zoe.http.updateMe({ displayName: 'Zoe Zhang' });

    const t = await newTab(env.browser, env.server.url, {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
      userAgent: ANDROID_UA,
    });
    const page = t.page;
    await page.getByRole('heading', { name: 'Log in to Parley' }).waitFor();
    expect(await smallTargets(page)).toEqual([]);
    await screenshot(page, 'phone-login');
    await signUp(page, me, 'Pia Phone');
    await openToAllInPage(page);
    expect(await page.locator('.right').isVisible()).toBe(false);
    expect(await smallTargets(page)).toEqual([]);

    // A contact request arrives; accept it from the Contacts screen.
    await zoe.http.requestContact({ username: me });
    await page.getByRole('button', { name: 'Contacts (1 new requests)' }).tap();
    await page.getByTestId('incoming').getByRole('button', { name: 'Accept' }).tap();
    await page.getByTestId('contacts').getByText('Zoe Zhang').waitFor();
    expect(await smallTargets(page)).toEqual([]);
    await screenshot(page, 'phone-contacts');

    // Message her: the chat replaces the list.
    await page.getByTestId('contacts').getByRole('button', { name: 'Message' }).tap();
    await page.getByTestId('composer').waitFor();
    expect(await page.locator('.left').isVisible()).toBe(false);
    await sendMessage(page, 'Hi Zoe, from my phone');
    await bubble(page, 'Hi Zoe, from my phone').waitFor();
    const conv = (await zoe.http.conversations()).conversations[0];
    expect(conv?.name).toBe('Pia Phone');
    await zoe.http.send(conv?.id ?? '', { clientId: 'zoe-1', text: 'Hello Pia! 👋' });
    await bubble(page, 'Hello Pia!').waitFor();
    expect(await smallTargets(page)).toEqual([]);
    await screenshot(page, 'phone-chat');

    // A draft survives leaving the chat; back returns to the list.
    await page.getByTestId('composer').fill('half-written thought');
    await page.getByRole('button', { name: 'Back to chats' }).tap();
    await row(page, 'Zoe Zhang').waitFor();
    expect(await page.getByTestId('composer').count()).toBe(0);
    await row(page, 'Zoe Zhang').tap();
    await eventually(
      async () => (await page.getByTestId('composer').inputValue()) === 'half-written thought',
      'draft kept',
    );

    // Her info screen: block, then unblock.
    await page.getByRole('button', { name: 'Conversation info' }).tap();
    await page.getByRole('button', { name: 'Block Zoe Zhang' }).tap();
    await page.getByTestId('confirm').getByRole('button', { name: 'Block', exact: true }).tap();
    await page.getByRole('button', { name: 'Unblock Zoe Zhang' }).waitFor();
    await screenshot(page, 'phone-info');
    await page.getByRole('button', { name: 'Unblock Zoe Zhang' }).tap();
    await page.getByRole('button', { name: 'Block Zoe Zhang' }).waitFor();
    await page.goBack();
    await page.getByTestId('composer').waitFor();
    await page.goBack();
    await row(page, 'Zoe Zhang').waitFor();

    // Settings: this device is named after the phone's browser; another one can be logged out.
    const laptop = await newDevice(env.server.url, me, 'Firefox on Linux');
    await page.getByRole('button', { name: 'Settings and devices' }).tap();
    await page.getByTestId('device').nth(1).waitFor();
    expect(await page.getByTestId('device').first().textContent()).toContain('Chrome on Android');
    await screenshot(page, 'phone-settings');
    await page.getByRole('button', { name: 'Log out Firefox on Linux' }).tap();
    await eventually(async () => (await page.getByTestId('device').count()) === 1, 'other device revoked');
    await expect(laptop.http.me()).rejects.toThrow();
    await page.getByRole('button', { name: 'Log out', exact: true }).tap();
    await page.getByRole('heading', { name: 'Log in to Parley' }).waitFor();
    expect(t.errors).toEqual([]);
  });
});
