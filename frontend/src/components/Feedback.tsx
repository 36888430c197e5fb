import Link from "next/link";
import type { ReactNode } from "react";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function ErrorAlert({ message, children }: { message: string | null | undefined; children?: ReactNode }) {
  if (!message) return null;
  return (
    <div className="alert alert-error" role="alert" data-testid="error">
      {message}
      {children}
    </div>
  );
}

export function NotFoundPanel({ what = "Page" }: { what?: string }) {
  const page = what === "Page";
  return (
    <div className="card empty" data-testid="not-found">
      <h1>{what} not found</h1>
      <p>
        {page
          ? "There is nothing at this address. It may be mistyped, or the page has moved."
          : "It may have been deleted, or it belongs to another account."}
      </p>
      <Link href={page ? "/" : "/scouts"} className="btn">
        {page ? "Go to the start page" : "Back to my scouts"}
      </Link>
    </div>
  );
}
