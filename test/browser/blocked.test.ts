/**
 * A contact I blocked shows no presence (no online dot, no last seen), and their chat has a
 * "You blocked this contact" bar with Unblock in place of the composer.
 */
import { describe, expect, it } from 'vitest';
import { Recorder, newUser, openToAll } from '../helpers/sdk.js';
import { newTab, row, screenshot, serverAndBrowser, uname } from './helpers.js';
import { logInByKeyboard } from './keyboard.js';

describe('blocking in the web app', () => {
  const env = serverAndBrowser();

  it('hides presence and replaces the composer until unblocked', async () => {
    const ana = await newUser(env.server.url, uname('ana'));
    await openToAll(ana);
    const carol = await newUser(env.server.url, uname('carol'));
    await openToAll(carol);
    await carol.http.updateMe({ displayName: 'Carol Chen' });
    const d = await carol.http.direct({ username: ana.username });
    await carol.http.setPrivacy({ online: 'everyone' }); // ana, a 1:1 partner, sees it
    await carol.http.send(d.id, { clientId: 'c1', text: 'Hi Ana' });
    // Carol is online the whole time.
    const carolOnline = await new Recorder(env.server.url, carol.session.token).start();

    const a = await newTab(env.browser, env.server.url);
    await logInByKeyboard(a.page, ana.username);
    await row(a.page, 'Carol Chen').click();
    const status = a.page.getByTestId('chat-status');
    await status.getByText('online').waitFor();

    await a.page.getByRole('button', { name: 'Conversation info' }).click();
    await a.page.getByRole('button', { name: 'Block Carol Chen' }).click();
    await a.page.getByTestId('confirm').getByRole('button', { name: 'Block', exact: true }).click();
    await a.page.getByRole('button', { name: 'Close info' }).click();

    const bar = a.page.getByTestId('readonly-bar');
    await bar.getByText('You blocked this contact').waitFor();
    expect(await a.page.getByTestId('composer').count()).toBe(0);
    expect(await status.textContent()).toBe('');
    expect(await row(a.page, 'Carol Chen').locator('.dot').count()).toBe(0);
    expect(await row(a.page, 'Carol Chen').getByText('online').count()).toBe(0);
    await screenshot(a.page, 'blocked-chat');

    // Still so after a reload.
    await a.page.reload();
    await a.page.getByTestId('readonly-bar').getByText('You blocked this contact').waitFor();
    expect(await a.page.getByTestId('chat-status').textContent()).toBe('');

    await a.page.getByTestId('readonly-bar').getByRole('button', { name: 'Unblock' }).click();
    await a.page.getByTestId('composer').waitFor();
    await a.page.getByTestId('chat-status').getByText('online').waitFor();
    expect((await ana.http.contacts()).blocked).toEqual([]);
    carolOnline.stop();
    expect(a.errors).toEqual([]);
  });
});
