/**
 * A link preview card: site name, title and two lines of description, all rendered as text.
 * No image: it would tell the linked site who reads the chat, and the CSP loads none.
 */
import type { JSX } from 'preact';
import type { LinkPreview } from '@parley/client';

export function PreviewCard({ preview }: { preview: LinkPreview }): JSX.Element {
  return (
    <div class="link-preview" data-testid="link-preview">
      {preview.siteName !== undefined && (
        <span class="link-preview-site" dir="auto">
          {preview.siteName}
        </span>
      )}
      <span class="link-preview-title" dir="auto">
        {preview.title}
      </span>
      {preview.description !== undefined && (
        <span class="link-preview-description" dir="auto">
          {preview.description}
        </span>
      )}
    </div>
  );
}

/** The card in a message bubble: the whole card opens the page in a new tab. */
export function PreviewLink({ preview }: { preview: LinkPreview }): JSX.Element | null {
  let href: string;
  try {
    const u = new URL(preview.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    href = u.href;
  } catch {
    return null;
  }
  return (
    <a
      class="link-preview-link"
      href={href}
      target="_blank"
      rel="noopener noreferrer"
      data-testid="message-preview"
    >
      <PreviewCard preview={preview} />
    </a>
  );
}
