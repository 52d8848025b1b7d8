// Syntax highlighting for the session's code (diff lines, code blocks): lowlight (highlight.js's
// grammars, as a tree) turned into React elements. No HTML string is made or parsed: the tree
// holds only spans with token classes and the session's text as text nodes. Its own chunk,
// loaded when first needed.
import { toJsxRuntime } from 'hast-util-to-jsx-runtime';
import { common, createLowlight } from 'lowlight';
import type { ReactNode } from 'react';
import { Fragment, jsx, jsxs } from 'react/jsx-runtime';

const lowlight = createLowlight(common);

/** Longer lines are shown plain: highlighting them costs more than it shows. */
const LONGEST = 2000;

export function known(language: string): boolean {
  return lowlight.registered(language);
}

/** `text` highlighted as `language`, or as it is when there is no language or it fails. */
export function highlight(language: string | null, text: string): ReactNode {
  if (!language || text.length > LONGEST) return text;
  try {
    return toJsxRuntime(lowlight.highlight(language, text), { Fragment, jsx, jsxs });
  } catch {
    return text;
  }
}
