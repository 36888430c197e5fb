"use client";

import Link from "next/link";
import { useState, useSyncExternalStore, type FormEvent } from "react";
import { ApiError, errorMessage } from "@/lib/api";
import { confirmPasswordReset, tokenFromLocation } from "@/lib/passwordReset";
import { ErrorAlert, Loading } from "@/components/Feedback";

function onHashChange(notify: () => void): () => void {
  window.addEventListener("hashchange", notify);
  return () => window.removeEventListener("hashchange", notify);
}

export function ResetPasswordForm() {
  // undefined while rendering on the server, where there is no fragment to read.
  const token = useSyncExternalStore<string | null | undefined>(onHashChange, tokenFromLocation, () => undefined);
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [expired, setExpired] = useState(false);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (password.length < 8) return setError("Use at least 8 characters for the password.");
    if (password !== repeat) return setError("The two passwords are not the same.");
    if (!token) return;
    setBusy(true);
    try {
      await confirmPasswordReset(token, password);
      setDone(true);
    } catch (err) {
      if (err instanceof ApiError && err.code === "invalid_token") setExpired(true);
      else setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  if (token === undefined) return <Loading />;

  if (done) {
    return (
      <div className="card auth-card">
        <h1>Password set</h1>
        <p data-testid="reset-done">You can sign in with your new password. Other devices have been signed out.</p>
        <Link href="/login" className="btn btn-primary">
          Sign in
        </Link>
      </div>
    );
  }

  if (!token || expired) {
    return (
      <div className="card auth-card">
        <h1>This link does not work</h1>
        <p>It may have expired (links work for one hour), or it has been used already.</p>
        <Link href="/forgot-password" className="btn btn-primary">
          Send a new link
        </Link>
      </div>
    );
  }

  return (
    <div className="card auth-card">
      <h1>Choose a new password</h1>
      <ErrorAlert message={error} />
      <form onSubmit={onSubmit} aria-label="Set a new password">
        <div className="field">
          <label htmlFor="password">New password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-describedby="password-hint"
          />
          <div id="password-hint" className="field-hint">
            At least 8 characters.
          </div>
        </div>
        <div className="field">
          <label htmlFor="repeat">Repeat it</label>
          <input
            id="repeat"
            name="repeat"
            type="password"
            autoComplete="new-password"
            required
            value={repeat}
            onChange={(e) => setRepeat(e.target.value)}
          />
        </div>
        <button type="submit" className="btn btn-primary" style={{ width: "100%" }} disabled={busy}>
          {busy ? <span className="spinner" aria-hidden="true" /> : null}
          Set password
        </button>
      </form>
    </div>
  );
}
