"use client";

import { useChat } from "@ai-sdk/react";
import type { UIMessage } from "ai";
import { useEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { chatErrorText, CONFIG_TOOL_PART, createChatTransport } from "@/lib/chat";
import { takeFirstMessage } from "@/lib/handoff";
import type { ScoutLocation } from "@/lib/types";
import { ErrorAlert } from "@/components/Feedback";
import { Markdown } from "@/components/Markdown";

interface Props {
  scoutId: string;
  initialMessages: UIMessage[];
  location: ScoutLocation | null;
  /** Called whenever the assistant changed the scout's settings. */
  onConfigChanged(): void;
  /** The home page's prompt (the first message) got no answer at all. */
  onFirstMessageFailed?(text: string, reason: string): void;
}

type Part = UIMessage["parts"][number];

interface ToolPartLike {
  type: string;
  toolCallId: string;
  state: string;
  errorText?: string;
}

function isConfigTool(p: Part): p is Part & ToolPartLike {
  return p.type === CONFIG_TOOL_PART;
}

function ToolNote({ part }: { part: ToolPartLike }) {
  if (part.state === "output-available") {
    return <div className="msg-tool" data-testid="tool-note">✓ Scout settings updated</div>;
  }
  if (part.state === "output-error" || part.state === "input-error") {
    return <div className="msg-tool pending">Could not update the settings{part.errorText ? `: ${part.errorText}` : ""}</div>;
  }
  return <div className="msg-tool pending">Updating settings…</div>;
}

function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      window.setTimeout(() => setCopied(false), 2000);
    } catch {
      // Clipboard refused (permissions); nothing useful to say beyond not confirming.
    }
  }
  return (
    <button type="button" className="btn-link msg-action" onClick={copy} data-testid="chat-copy">
      {copied ? "Copied" : "Copy"}
      <span className="visually-hidden"> this answer</span>
    </button>
  );
}

interface MessageViewProps {
  message: UIMessage;
  /** Offered on the newest answer: asks the assistant again. */
  onRetry?: () => void;
}

function MessageView({ message, onRetry }: MessageViewProps) {
  const bubbles: React.ReactNode[] = [];
  message.parts.forEach((part, i) => {
    if (part.type === "text" && part.text.trim()) {
      bubbles.push(
        message.role === "user" ? (
          <div key={i} className="msg msg-user" data-testid="chat-user">
            {part.text}
          </div>
        ) : (
          <div key={i} className="msg msg-assistant" data-testid="chat-assistant" style={{ whiteSpace: "normal" }}>
            <Markdown>{part.text}</Markdown>
            <div className="msg-actions">
              <CopyButton text={part.text} />
              {onRetry && (
                <button type="button" className="btn-link msg-action" onClick={onRetry} data-testid="chat-retry">
                  Retry
                </button>
              )}
            </div>
          </div>
        ),
      );
    } else if (isConfigTool(part)) {
      bubbles.push(<ToolNote key={i} part={part} />);
    }
  });
  return <>{bubbles}</>;
}

export function ChatPanel({ scoutId, initialMessages, location, onConfigChanged, onFirstMessageFailed }: Props) {
  const transport = useMemo(() => createChatTransport(scoutId), [scoutId]);
  const { messages, sendMessage, regenerate, status, error, stop, clearError } = useChat({
    id: `scout-${scoutId}`,
    messages: initialMessages,
    transport,
    // The final text may come with no tool call at all; a refetch is cheap and
    // keeps the checklist honest either way.
    onFinish: () => onConfigChanged(),
  });
  const [input, setInput] = useState("");
  const logRef = useRef<HTMLDivElement>(null);
  const seenTools = useRef(new Set<string>());
  const sentFirst = useRef(false);
  const firstText = useRef<string | null>(null);
  const busy = status === "submitted" || status === "streaming";

  // Tick the checklist as soon as a settings update lands, not only at the end.
  useEffect(() => {
    let changed = false;
    for (const m of messages) {
      for (const p of m.parts) {
        if (isConfigTool(p) && (p.state === "output-available" || p.state === "output-error")) {
          if (!seenTools.current.has(p.toolCallId)) {
            seenTools.current.add(p.toolCallId);
            changed = true;
          }
        }
      }
    }
    if (changed) onConfigChanged();
  }, [messages, onConfigChanged]);

  // The prompt typed on the home page becomes the first message.
  useEffect(() => {
    if (sentFirst.current) return;
    sentFirst.current = true;
    const first = takeFirstMessage(scoutId);
    if (first && initialMessages.length === 0) {
      firstText.current = first;
      void sendMessage({ text: first }, { body: { location } });
    }
  }, [scoutId, initialMessages.length, sendMessage, location]);

  // The first message failed before the assistant said or did anything: hand it back.
  useEffect(() => {
    const first = firstText.current;
    if (!error || first === null || !onFirstMessageFailed) return;
    firstText.current = null;
    const answered = messages.some((m) => m.role === "assistant" && m.parts.some((p) => (p.type === "text" && p.text.trim()) || isConfigTool(p)));
    if (!answered) onFirstMessageFailed(first, chatErrorText(error));
  }, [error, messages, onFirstMessageFailed]);

  // Once the assistant answers, later failures are the ordinary kind (Try again).
  useEffect(() => {
    if (status === "ready" && messages.some((m) => m.role === "assistant")) firstText.current = null;
  }, [status, messages]);

  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages, status]);

  function submit(e?: FormEvent) {
    e?.preventDefault();
    const text = input.trim();
    if (!text || busy) return;
    clearError();
    setInput("");
    // The location goes with each request: it may load after the chat opens.
    void sendMessage({ text }, { body: { location } });
  }

  function retry() {
    clearError();
    void regenerate({ body: { location } });
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      submit();
    }
  }

  return (
    <section className="card chat" aria-label="Chat with the scout assistant">
      <div className="chat-log" ref={logRef} role="log" aria-live="polite" aria-relevant="additions" data-testid="chat-log">
        {messages.length === 0 && !busy ? (
          <div className="chat-empty">
            <h2>Tell the assistant what to watch</h2>
            <p>It fills in the setup on the right and asks about anything it needs, like where and how often.</p>
          </div>
        ) : (
          messages.map((m, i) => (
            <MessageView key={m.id} message={m} onRetry={!busy && i === messages.length - 1 && m.role === "assistant" ? retry : undefined} />
          ))
        )}
        {status === "submitted" && (
          <div className="msg msg-assistant muted" role="status" data-testid="chat-thinking">
            <span className="spinner" aria-hidden="true" /> Thinking…
          </div>
        )}
      </div>
      {error && (
        <div style={{ padding: "0 0.75rem" }}>
          <ErrorAlert message={chatErrorText(error)}>
            {" "}
            <button type="button" className="btn-link" onClick={retry} data-testid="chat-retry-error">
              Try again
            </button>
          </ErrorAlert>
        </div>
      )}
      <form className="chat-form" onSubmit={submit}>
        <label htmlFor="chat-input" className="visually-hidden">
          Message the scout assistant
        </label>
        <textarea
          id="chat-input"
          data-testid="chat-input"
          rows={1}
          placeholder="Reply to the assistant…"
          value={input}
          onChange={(e) => setInput(e.target.value)}
          onKeyDown={onKeyDown}
        />
        {busy ? (
          <button type="button" className="btn" onClick={() => stop()}>
            Stop
          </button>
        ) : (
          <button type="submit" className="btn btn-primary" disabled={!input.trim()} data-testid="chat-send">
            Send
          </button>
        )}
      </form>
    </section>
  );
}
