// The agent's and the user's message text as Markdown (GitHub flavour: tables, lists, code),
// with the session's text kept inert: raw HTML in a message is shown as the text it is (turned
// into text nodes before rendering, never parsed as markup), links keep react-markdown's
// protocol check (no `javascript:`), and images are not loaded (a message could point one at
// any host): they show as their alt text and address. Fenced code with a language is highlighted
// (rehype-highlight: token spans around text, nothing parsed as markup; no guessing).
import Markdown, { type Components } from 'react-markdown';
import rehypeHighlight from 'rehype-highlight';
import remarkGfm from 'remark-gfm';

type Node = { type: string; value?: string; children?: Node[] };

/** A remark plugin: every raw HTML node becomes a text node with the same characters. */
function htmlAsText() {
  const walk = (node: Node) => {
    if (node.type === 'html') node.type = 'text';
    node.children?.forEach(walk);
  };
  return (tree: Node) => walk(tree);
}

const components: Components = {
  img: ({ alt, src }) => (
    <span className="md-image">
      [image{alt ? `: ${alt}` : ''}] {typeof src === 'string' ? src : ''}
    </span>
  ),
  a: ({ href, children }) => (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  ),
};

export function MessageText({ text }: { text: string }) {
  return (
    <div className="text markdown">
      <Markdown remarkPlugins={[remarkGfm, htmlAsText]} rehypePlugins={[[rehypeHighlight, { detect: false }]]} components={components}>
        {text}
      </Markdown>
    </div>
  );
}
