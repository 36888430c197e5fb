import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";

// react-markdown ignores raw HTML unless rehype-raw is added, which we never do:
// reports are written by a model from web pages and must not inject markup.
export function Markdown({ children }: { children: string }) {
  return (
    <ReactMarkdown
      remarkPlugins={[remarkGfm]}
      skipHtml
      components={{
        a: ({ href, children: text }) => (
          <a href={href} target="_blank" rel="noopener noreferrer nofollow">
            {text}
          </a>
        ),
        img: ({ alt }) => <span>{alt}</span>,
      }}
    >
      {children}
    </ReactMarkdown>
  );
}
