"use client";

import Link from "next/link";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { errorMessage, findings as findingsApi, runHref } from "@/lib/api";
import { formatDateTime, relativeTime, scoutTitle } from "@/lib/format";
import type { Finding } from "@/lib/types";
import { ErrorAlert } from "@/components/Feedback";

const MAX_QUERY = 500;

/** Search everything the user's scouts ever found, by meaning. */
export function FindingsSearch() {
  const [query, setQuery] = useState("");
  const [searched, setSearched] = useState<string | null>(null);
  const [results, setResults] = useState<Finding[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const inFlight = useRef<AbortController | null>(null);

  useEffect(() => () => inFlight.current?.abort(), []);

  async function submit(ev: FormEvent<HTMLFormElement>) {
    ev.preventDefault();
    const q = query.trim();
    if (!q) return;
    inFlight.current?.abort();
    const controller = new AbortController();
    inFlight.current = controller;
    setBusy(true);
    setError(null);
    try {
      const found = await findingsApi.search(q, { signal: controller.signal });
      setResults(found);
      setSearched(q);
    } catch (err) {
      if (controller.signal.aborted) return;
      setResults(null);
      setError(errorMessage(err));
    } finally {
      if (inFlight.current === controller) {
        inFlight.current = null;
        setBusy(false);
      }
    }
  }

  function clear() {
    inFlight.current?.abort();
    setQuery("");
    setResults(null);
    setSearched(null);
    setError(null);
    setBusy(false);
  }

  return (
    <section className="card findings-search" aria-labelledby="findings-search-title" data-testid="findings-search">
      <h2 id="findings-search-title" className="findings-search-title">
        Search your findings
      </h2>
      <form role="search" className="findings-search-form" onSubmit={submit}>
        <input
          type="search"
          value={query}
          maxLength={MAX_QUERY}
          onChange={(e) => setQuery(e.target.value)}
          placeholder="When did a scout last mention ramen in Denver?"
          aria-label="Search everything your scouts found"
          data-testid="findings-query"
        />
        <button type="submit" className="btn btn-primary" disabled={busy || !query.trim()} data-testid="findings-submit">
          {busy ? <span className="spinner" aria-hidden="true" /> : null}
          Search
        </button>
        {(results !== null || error) && (
          <button type="button" className="btn" onClick={clear}>
            Clear
          </button>
        )}
      </form>
      <ErrorAlert message={error} />
      {results !== null && searched !== null && (
        <div aria-live="polite">
          {results.length === 0 ? (
            <p className="muted small" data-testid="findings-empty">
              None of your scouts has reported anything about &ldquo;{searched}&rdquo; yet.
            </p>
          ) : (
            <ol className="findings-results" data-testid="findings-results">
              {results.map((f) => (
                <li key={f.execution_id} data-testid="finding" data-match={f.match}>
                  <Link href={runHref(f.scout_id, f.execution_id)} className="finding-summary">
                    {f.summary}
                  </Link>
                  <div className="small muted finding-meta">
                    <span>{scoutTitle({ title: f.scout_title })}</span>
                    {f.completed_at && <span title={formatDateTime(f.completed_at)}> · {relativeTime(f.completed_at)}</span>}
                    {f.match === "text" && <span> · word match</span>}
                  </div>
                  {f.excerpt && f.excerpt !== f.summary && <p className="small finding-excerpt">{f.excerpt}</p>}
                </li>
              ))}
            </ol>
          )}
        </div>
      )}
    </section>
  );
}
