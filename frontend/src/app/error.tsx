"use client";

import Link from "next/link";

/** Shown when a page fails to render; the details go to the console, not the screen. */
export default function ErrorPage({ reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="card empty" role="alert" data-testid="error-page">
      <h1>Something went wrong</h1>
      <p>This page could not be shown. Try again, or go back to your scouts.</p>
      <div className="row" style={{ justifyContent: "center" }}>
        <button type="button" className="btn btn-primary" onClick={reset}>
          Try again
        </button>
        <Link href="/scouts" className="btn">
          My scouts
        </Link>
      </div>
    </div>
  );
}
