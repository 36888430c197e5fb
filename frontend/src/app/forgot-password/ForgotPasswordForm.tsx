"use client";

import Link from "next/link";
import { useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "@/lib/api";
import { requestPasswordReset } from "@/lib/passwordReset";
import { ErrorAlert } from "@/components/Feedback";

export function ForgotPasswordForm() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      setSent(await requestPasswordReset(email.trim()));
    } catch (err) {
      if (err instanceof ApiError && err.code === "rate_limited") {
        setError("Too many requests from here. Try again later.");
      } else if (err instanceof ApiError && err.status === 422) {
        setError("Enter the email address of your account.");
      } else {
        setError(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="card auth-card">
      <h1>Forgot your password?</h1>
      {sent ? (
        <>
          <p role="status" data-testid="reset-sent">
            {sent}
          </p>
          <p className="muted">Check your inbox, and the spam folder too.</p>
        </>
      ) : (
        <>
          <p className="muted">Enter your email and we will send you a link to choose a new password.</p>
          <ErrorAlert message={error} />
          <form onSubmit={onSubmit} aria-label="Ask for a reset link">
            <div className="field">
              <label htmlFor="email">Email</label>
              <input
                id="email"
                name="email"
                type="email"
                autoComplete="email"
                required
                value={email}
                onChange={(e) => setEmail(e.target.value)}
              />
            </div>
            <button type="submit" className="btn btn-primary" style={{ width: "100%" }} disabled={busy}>
              {busy ? <span className="spinner" aria-hidden="true" /> : null}
              Send the link
            </button>
          </form>
        </>
      )}
      <p className="auth-switch">
        <Link href="/login">Back to sign in</Link>
      </p>
    </div>
  );
}
