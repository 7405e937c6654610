/**
 * Parsed message markup (lib/markup.ts) as Preact elements and text nodes. Nothing in the
 * text is ever parsed as HTML: Preact creates text nodes, and a link's href is only ever an
 * http(s) URL built from the matched text (lib/links.ts).
 */
import type { ComponentChildren, JSX } from 'preact';
import type { Block, Inline } from './markup.js';

function inlines(nodes: Inline[]): ComponentChildren {
  return nodes.map((n, i) => {
    switch (n.kind) {
      case 'text':
        return n.text;
      case 'link':
        return (
          <a key={i} href={n.href} target="_blank" rel="noopener noreferrer">
            {n.text}
          </a>
        );
      case 'code':
        return <code key={i}>{n.text}</code>;
      case 'bold':
        return <strong key={i}>{inlines(n.children)}</strong>;
      case 'italic':
        return <em key={i}>{inlines(n.children)}</em>;
      case 'strike':
        return <s key={i}>{inlines(n.children)}</s>;
      default: {
        const never: never = n;
        return never;
      }
    }
  });
}

function block(b: Block, key: number, last: boolean): ComponentChildren {
  switch (b.kind) {
    case 'para': {
      // A line break that ends the text before a block shows nothing by itself: a blank line
      // typed before a quote, list or code block needs this break to show.
      const end = b.children[b.children.length - 1];
      const blank = !last && end?.kind === 'text' && end.text.endsWith('\n');
      return [inlines(b.children), blank && <br key={`br${key}`} />];
    }
    case 'quote':
      return <blockquote key={key}>{inlines(b.children)}</blockquote>;
    case 'pre':
      return (
        <pre key={key}>
          <code>{b.text}</code>
        </pre>
      );
    case 'list': {
      const items = b.items.map((it, i) => (
        <li key={i} value={it.number}>
          {inlines(it.children)}
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

export function Markup({ blocks }: { blocks: Block[] }): JSX.Element {
  return <>{blocks.map((b, i) => block(b, i, i === blocks.length - 1))}</>;
}
