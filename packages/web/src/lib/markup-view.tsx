/**
 * Parsed message markup (lib/markup.ts) as Preact elements and text nodes. Nothing in the
 * text is ever parsed as HTML: Preact creates text nodes, and a link's href is only ever an
 * http(s) URL built from the matched text (links.ts in @parley/protocol).
 */
import type { ComponentChildren, JSX } from 'preact';
import { findMentions } from '@parley/protocol';
import type { Block, Inline } from './markup.js';

/** How the text shows besides its markup. */
export interface MarkupOptions {
  /**
   * Usernames of a group's members, each with whether it is mine: their `@username` in plain
   * text (not in code or links) shows highlighted.
   */
  mentions?: ReadonlyMap<string, boolean> | undefined;
  /** Links as plain text, for a snippet inside a button (no link inside a control). */
  plainLinks?: boolean | undefined;
}

/** A post-pass over one text node: `@username` of a member becomes a highlighted span. */
function withMentions(text: string, names: ReadonlyMap<string, boolean>, key: number): ComponentChildren {
  const parts: ComponentChildren[] = [];
  let at = 0;
  for (const t of findMentions(text)) {
    const mine = names.get(t.username);
    if (mine === undefined) continue;
    if (t.index > at) parts.push(text.slice(at, t.index));
    parts.push(
      <span key={`${key}m${t.index}`} class={`mention ${mine ? 'mention-me' : ''}`} data-testid="mention">
        {text.slice(t.index, t.index + t.length)}
      </span>,
    );
    at = t.index + t.length;
  }
  if (at === 0) return text;
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}

function inlines(nodes: Inline[], opts: MarkupOptions): ComponentChildren {
  return nodes.map((n, i) => {
    switch (n.kind) {
      case 'text':
        return opts.mentions !== undefined && opts.mentions.size > 0
          ? withMentions(n.text, opts.mentions, i)
          : n.text;
      case 'link':
        return opts.plainLinks === true ? (
          n.text
        ) : (
          <a key={i} href={n.href} target="_blank" rel="noopener noreferrer">
            {n.text}
          </a>
        );
      case 'code':
        return <code key={i}>{n.text}</code>;
      case 'bold':
        return <strong key={i}>{inlines(n.children, opts)}</strong>;
      case 'italic':
        return <em key={i}>{inlines(n.children, opts)}</em>;
      case 'strike':
        return <s key={i}>{inlines(n.children, opts)}</s>;
      default: {
        const never: never = n;
        return never;
      }
    }
  });
}

function block(b: Block, key: number, last: boolean, opts: MarkupOptions): ComponentChildren {
  switch (b.kind) {
    case 'para': {
      // A line break that ends the text before a block shows nothing by itself: a blank line
      // typed before a quote, list or code block needs this break to show.
      const end = b.children[b.children.length - 1];
      const blank = !last && end?.kind === 'text' && end.text.endsWith('\n');
      return [inlines(b.children, opts), blank && <br key={`br${key}`} />];
    }
    case 'quote':
      return <blockquote key={key}>{inlines(b.children, opts)}</blockquote>;
    case 'pre':
      return (
        <pre key={key}>
          <code>{b.text}</code>
        </pre>
      );
    case 'list': {
      const items = b.items.map((it, i) => (
        <li key={i} value={it.number}>
          {inlines(it.children, opts)}
        </li>
      ));
      return b.ordered ? <ol key={key}>{items}</ol> : <ul key={key}>{items}</ul>;
    }
    default: {
      const never: never = b;
      return never;
    }
  }
}

export function Markup({ blocks, ...opts }: { blocks: Block[] } & MarkupOptions): JSX.Element {
  return <>{blocks.map((b, i) => block(b, i, i === blocks.length - 1, opts))}</>;
}
