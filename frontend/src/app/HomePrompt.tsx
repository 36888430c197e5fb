"use client";

import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { useRouter } from "next/navigation";
import { errorMessage, scouts } from "@/lib/api";
import { loginPath, useAuth } from "@/lib/auth";
import { clearPendingPrompt, peekPendingPrompt, saveFirstMessage, savePendingPrompt, takeFailedPrompt } from "@/lib/handoff";
import { ErrorAlert } from "@/components/Feedback";

const EXAMPLES = [
  "New Indian restaurants opening in Denver",
  "Launches of AI coding tools",
  "Affordable apartments listed near Golden Gate Park",
  "Local farmers markets starting this season",
];

export function HomePrompt() {
  const { user } = useAuth();
  const router = useRouter();
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const resumed = useRef(false);

  const create = useCallback(
    async (prompt: string) => {
      setBusy(true);
      setError(null);
      try {
        const scout = await scouts.create({});
        saveFirstMessage(scout.id, prompt);
        clearPendingPrompt();
        router.push(`/scout/${scout.id}`);
      } catch (err) {
        setError(errorMessage(err));
        setBusy(false);
      }
    },
    [router],
  );

  // Back from a scout whose first message got no answer: the text is offered again.
  useEffect(() => {
    const failed = takeFailedPrompt();
    if (!failed) return;
    // eslint-disable-next-line react-hooks/set-state-in-effect
    setText(failed.text);
    setError(`The assistant did not answer, so no scout was created. ${failed.reason} Your text is kept below.`.replace(/\s+/g, " "));
  }, []);

  // Back from /login with a prompt typed while signed out: carry on with it.
  useEffect(() => {
    if (!user || resumed.current) return;
    const pending = peekPendingPrompt();
    if (!pending) return;
    resumed.current = true;
    // eslint-disable-next-line react-hooks/set-state-in-effect
    setText(pending);
    void create(pending);
  }, [user, create]);

  function submit(e?: FormEvent) {
    e?.preventDefault();
    const prompt = text.trim();
    if (!prompt || busy) return;
    if (!user) {
      savePendingPrompt(prompt);
      router.push(loginPath("/"));
      return;
    }
    void create(prompt);
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      submit();
    }
  }

  return (
    <section className="hero">
      <h1>What should a scout look for?</h1>
      <p className="lead">
        Describe what you want to keep an eye on. A scout searches the web on a schedule and tells you when something new
        turns up.
      </p>
      <form className="card prompt-box" onSubmit={submit}>
        <ErrorAlert message={error} />
        <label htmlFor="scout-prompt" className="visually-hidden">
          What should a scout look for?
        </label>
        <textarea
          id="scout-prompt"
          data-testid="home-prompt"
          placeholder="e.g. New Indian restaurants opening in Denver"
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
          disabled={busy}
          rows={3}
        />
        <div className="prompt-actions">
          <span className="small muted">
            {user === null ? "You will be asked to sign in first." : "Press Enter to start, Shift+Enter for a new line."}
          </span>
          <button type="submit" className="btn btn-primary" disabled={busy || !text.trim()} data-testid="home-submit">
            {busy ? <span className="spinner" aria-hidden="true" /> : null}
            {busy ? "Creating scout…" : "Create scout"}
          </button>
        </div>
      </form>
      <div className="examples" aria-label="Examples">
        {EXAMPLES.map((ex) => (
          <button key={ex} type="button" className="chip" onClick={() => setText(ex)} disabled={busy}>
            {ex}
          </button>
        ))}
      </div>
    </section>
  );
}
