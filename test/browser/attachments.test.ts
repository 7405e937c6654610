/**
 * Attachments end to end in Chromium: a photo chosen with the paperclip and sent with a caption
 * reaches the other tab as a placeholder, then its thumbnail, and opens full size in a viewer;
 * a file shows its name and size and downloads; a hostile file name is shown as text.
 */
import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import type { Route } from 'playwright-core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { newUser, openToAll } from '../helpers/sdk.js';
import {
  CHROMIUM,
  bubble,
  newTab,
  openChat,
  openToAllInPage,
  row,
  screenshot,
  serverAndBrowser,
  signUp,
  startDirect,
  uname,
} from './helpers.js';

/** A 640×480 JPEG with a colour gradient (a placeholder of one colour would prove little). */
async function photo(): Promise<Buffer> {
  const width = 640;
  const height = 480;
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = Math.round((255 * x) / width);
      raw[i + 1] = Math.round((255 * y) / height);
      raw[i + 2] = 128;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 80 })
    .toBuffer();
}

const EVIL = '<img src=x onerror="window.__xss=1">.txt';

describe('attachments', () => {
  const env = serverAndBrowser();

  it('sends a photo with a caption: placeholder, thumbnail, full-size viewer', async () => {
    const ana = uname('ana');
    const bob = uname('bob');
    const a = await newTab(env.browser, env.server.url);
    await signUp(a.page, ana, 'Ana Attach');
    const b = await newTab(env.browser, env.server.url);
    await signUp(b.page, bob, 'Bob Attach');
    await openToAllInPage(b.page);

    await startDirect(a.page, bob);
    await a.page.getByTestId('file-input').setInputFiles({
      name: 'beach.jpg',
      mimeType: 'image/jpeg',
      buffer: await photo(),
    });
    const tray = a.page.getByTestId('tray');
    await tray.waitFor();
    expect(await tray.locator('img').getAttribute('alt')).toBe('beach.jpg');
    await a.page.getByTestId('composer').fill('At the beach');
    await a.page.getByTestId('composer').press('Enter');
    await tray.waitFor({ state: 'detached' });
    // Mine shows the photo too once stored.
    await bubble(a.page, 'At the beach').locator('[data-testid="photo"]').waitFor();

    await row(b.page, 'Ana Attach').waitFor();
    expect(await row(b.page, 'Ana Attach').textContent()).toContain('📷 At the beach');
    await openChat(b.page, 'Ana Attach');
    const message = bubble(b.page, 'At the beach');
    const placeholder = message.getByTestId('placeholder');
    await placeholder.waitFor();
    expect(await placeholder.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    const thumb = message.getByTestId('thumbnail');
    await thumb.waitFor();
    expect(await thumb.getAttribute('alt')).toBe('beach.jpg');
    await expect
      .poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
      .toBeGreaterThan(0);
    // The thumbnail fits 320×320, keeping the 4:3 shape.
    expect(await thumb.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([
      320, 240,
    ]);
    await screenshot(b.page, 'attachments-photo');

    await message.getByRole('button', { name: 'Photo beach.jpg. Open' }).click();
    const viewer = b.page.getByTestId('viewer-image');
    await viewer.waitFor();
    expect(await viewer.getAttribute('alt')).toBe('beach.jpg');
    await expect
      .poll(() => viewer.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
      .toBe(640);
    // Focus is inside the modal dialog; Escape closes it and gives focus back.
    expect(await b.page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    await screenshot(b.page, 'attachments-viewer');
    await b.page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
    await a.context.close();
    await b.context.close();
  });

  it('shows a file with its name and size, downloads it, and shows a hostile name as text', async () => {
    const me = uname('fay');
    const t = await newTab(env.browser, env.server.url, { acceptDownloads: true });
    await signUp(t.page, me, 'Fay Files');
    await openToAllInPage(t.page);

    const sender = await newUser(env.server.url, uname('sam'));
    await openToAll(sender);
    await sender.http.updateMe({ displayName: 'Sam Sender' });
    const direct = await sender.http.direct({ username: me });
    const notes = Buffer.from('meeting notes\n'.repeat(200));
    const file = await sender.http.upload(new Uint8Array(notes), { name: 'notes.txt', type: 'text/plain' });
    expect(file).toMatchObject({ kind: 'file', name: 'notes.txt', size: notes.length });
    await sender.http.send(direct.id, { clientId: 'f1', text: '', attachments: [{ uploadId: file.id }] });
    const evil = await sender.http.upload(new Uint8Array(Buffer.from('hi')), { name: EVIL });
    await sender.http.send(direct.id, {
      clientId: 'f2',
      text: 'careful',
      attachments: [{ uploadId: evil.id }],
    });

    await row(t.page, 'Sam Sender').waitFor();
    await openChat(t.page, 'Sam Sender');
    const files = t.page.getByTestId('file');
    await files.nth(1).waitFor();
    expect(await files.nth(0).getByTestId('file-name').textContent()).toBe('notes.txt');
    expect(await files.nth(0).getByTestId('file-size').textContent()).toBe('3 KB');

    const download = t.page.waitForEvent('download');
    await files.nth(0).getByRole('button', { name: 'Download notes.txt' }).click();
    const got = await download;
    expect(got.suggestedFilename()).toBe('notes.txt');
    expect((await readFile(await got.path())).equals(notes)).toBe(true);

    // The hostile name is text: no element, no handler ran.
    expect(await files.nth(1).getByTestId('file-name').textContent()).toBe(EVIL);
    expect(await bubble(t.page, 'careful').locator('img').count()).toBe(0);
    expect(await t.page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)).toBeUndefined();
    await screenshot(t.page, 'attachments-files');
    expect(t.errors).toEqual([]);
    await t.context.close();
  });

  it('plays a voice note with its waveform and duration', async () => {
    const me = uname('vic');
    const t = await newTab(env.browser, env.server.url);
    await signUp(t.page, me, 'Vic Voice');
    await openToAllInPage(t.page);
    const sender = await newUser(env.server.url, uname('val'));
    await openToAll(sender);
    await sender.http.updateMe({ displayName: 'Val Voice' });
    const direct = await sender.http.direct({ username: me });
    const bytes = await readFile(new URL('../fixtures/media/voice-recorder.webm', import.meta.url));
    const note = await sender.http.upload(new Uint8Array(bytes), { name: 'voice.webm', type: 'audio/webm' });
    expect(note.kind).toBe('audio');
    // 64 bars rising from quiet to loud.
    const waveform = Buffer.from(Array.from({ length: 64 }, (_, i) => i * 4)).toString('base64');
    await sender.http.send(direct.id, {
      clientId: 'v1',
      text: '',
      attachments: [{ uploadId: note.id, durationMs: 1500, waveform }],
    });

    await row(t.page, 'Val Voice').waitFor();
    expect(await row(t.page, 'Val Voice').textContent()).toContain('🎤 Voice message 0:02');
    await openChat(t.page, 'Val Voice');
    const voice = t.page.getByTestId('voice-note');
    await voice.waitFor();
    expect(await voice.locator('.wave-bar').count()).toBe(64);
    expect(await voice.getByTestId('duration').textContent()).toBe('0:02');
    expect(await voice.getByRole('img').getAttribute('aria-label')).toBe('Voice message, 0:02');
    await voice.getByRole('button', { name: 'Play voice message' }).click();
    await voice.getByRole('button', { name: 'Pause voice message' }).waitFor();
    // It plays to the end, then can be played again.
    await voice.getByRole('button', { name: 'Play voice message' }).waitFor();
    expect(await voice.getByTestId('duration').textContent()).toBe('0:02');
    expect(t.errors).toEqual([]);
    await t.context.close();
  });

  it('shows the upload progress on the pending bubble, and Cancel stops it', async () => {
    const me = uname('cal');
    const t = await newTab(env.browser, env.server.url);
    await signUp(t.page, me, 'Cal Cancel');
    await startDirect(t.page, me);
    // The first piece goes through; the next waits until the upload is cancelled.
    const held: Route[] = [];
    let patches = 0;
    await t.page.route('**/v1/uploads/*', async (route) => {
      if (route.request().method() === 'PATCH' && ++patches > 1) held.push(route);
      else await route.continue();
    });
    await t.page.getByTestId('file-input').setInputFiles({
      name: 'big.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.alloc(3 * 1024 * 1024, 7),
    });
    await t.page.getByTestId('composer').fill('three megabytes');
    await t.page.getByTestId('composer').press('Enter');
    const uploading = t.page.getByTestId('uploading');
    await uploading.waitFor();
    await t.page.getByRole('progressbar', { name: 'Uploading, 33%' }).waitFor();
    expect(await t.page.locator('[data-status="uploading"]').textContent()).toContain('three megabytes');

    const deleted = t.page.waitForRequest((r) => r.method() === 'DELETE' && r.url().includes('/v1/uploads/'));
    await uploading.getByRole('button', { name: 'Cancel sending' }).click();
    await uploading.waitFor({ state: 'detached' });
    await deleted;
    for (const route of held) await route.abort();
    expect(await t.page.getByTestId('message').count()).toBe(0);
    expect(await t.page.getByTestId('send-error').count()).toBe(0);
    await t.context.close();
  });

  it('records a voice note with the mic button and sends it with its waveform', async () => {
    // Chromium's fake microphone (a beep) with the permission granted.
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
      ],
    });
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      // The app's own Permissions-Policy lets its page use the microphone (and nothing else).
      await page.goto(env.server.url);
      const me = uname('rex');
      await signUp(page, me, 'Rex Records');
      await startDirect(page, me);
      await page.getByRole('button', { name: 'Record voice message' }).click();
      await page.getByTestId('recording').getByText('Recording 0:01').waitFor();
      await page.getByRole('button', { name: 'Stop and send voice message' }).click();
      const voice = page.getByTestId('voice-note');
      await voice.waitFor();
      await expect.poll(() => voice.locator('.wave-bar').count()).toBe(64);
      expect(await voice.getByTestId('duration').textContent()).toMatch(/^0:0[1-9]$/);
      await screenshot(page, 'attachments-voice-recorded');
      await expect.poll(() => row(page, 'Rex Records').textContent()).toMatch(/🎤 Voice message 0:0[1-9]/);
      await context.close();
    } finally {
      await browser.close();
    }
  });
});
