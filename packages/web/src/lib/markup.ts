/**
 * Message markup in the app. The grammar (WhatsApp's *bold*, _italic_, ~strike~, `code`,
 * ```code blocks```, "> " quotes and lists) lives in @parley/protocol, shared with the server,
 * which strips it from push notifications the same way; the app renders the tree it gives as
 * elements and text nodes (lib/markup-view.tsx), never as HTML.
 */
export { blocksText, inlineText, parseInline, parseMarkup, plainText } from '@parley/protocol';
export type {
  MarkupBlock as Block,
  MarkupInline as Inline,
  MarkupListItem as ListItem,
} from '@parley/protocol';

const SPACE = /\s/;

// One emoji: a default-emoji character, a text character asked to show as emoji (U+FE0F), a
// flag or a keycap; modifiers and joined sequences stay in one grapheme after it.
const EMOJI =
  /^(?:\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F|\p{Regional_Indicator}{2}|[#*0-9]\uFE0F?\u20E3)/u;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Whether a text is one to three emoji and nothing else (spaces aside): those show large. */
export function isEmojiOnly(text: string): boolean {
  if (text.length > 200) return false;
  let count = 0;
  for (const { segment } of graphemes.segment(text)) {
    if (SPACE.test(segment)) continue;
    if (!EMOJI.test(segment) || ++count > 3) return false;
  }
  return count > 0;
}
