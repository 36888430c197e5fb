"use client";

import { useEffect, useRef, useState, type FormEvent } from "react";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { ApiError, errorMessage } from "@/lib/api";
import { useAuth } from "@/lib/auth";
import { ErrorAlert } from "@/components/Feedback";

type Mode = "login" | "signup";

/** Only same-site paths are followed, so ?next= cannot bounce users elsewhere. */
function safeNext(raw: string | null): string {
  if (!raw || !raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/login")) return "/";
  return raw;
}

function friendly(err: unknown, mode: Mode): string {
  if (err instanceof ApiError) {
    if (err.code === "invalid_credentials") return "That email and password do not match an account.";
    if (err.code === "email_taken") return "An account with this email already exists. Sign in instead.";
    if (err.code === "rate_limited") {
      const wait = err.retryAfterSeconds ? ` Try again in ${err.retryAfterSeconds} seconds.` : " Try again shortly.";
      return `Too many attempts.${wait}`;
    }
  }
  const msg = errorMessage(err);
  return mode === "signup" && !msg ? "Could not create the account." : msg;
}

export function LoginForm() {
  const { user, login, signup } = useAuth();
  const router = useRouter();
  const params = useSearchParams();
  const next = safeNext(params.get("next"));
  const [mode, setMode] = useState<Mode>(params.get("mode") === "signup" ? "signup" : "login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const emailRef = useRef<HTMLInputElement>(null);
  const submitted = useRef(false);

  // Already signed in (say, a second tab): go straight on.
  useEffect(() => {
    if (user && !submitted.current) router.replace(next);
  }, [user, next, router]);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (mode === "signup" && password.length < 8) {
      setError("Use at least 8 characters for the password.");
      return;
    }
    setBusy(true);
    submitted.current = true;
    try {
      if (mode === "signup") await signup(email.trim(), password);
      else await login(email.trim(), password);
      router.replace(next);
    } catch (err) {
      submitted.current = false;
      setError(friendly(err, mode));
      setBusy(false);
      emailRef.current?.focus();
    }
  }

  function toggle() {
    setMode((m) => (m === "login" ? "signup" : "login"));
    setError(null);
  }

  const isSignup = mode === "signup";
  return (
    <div className="card auth-card">
      <h1>{isSignup ? "Create your account" : "Sign in"}</h1>
      <p className="muted">
        {isSignup ? "Scouts watch the web for you and report what is new." : "Welcome back to Open Scouts."}
      </p>
      <ErrorAlert message={error} />
      <form onSubmit={onSubmit} noValidate={false} aria-label={isSignup ? "Sign up" : "Sign in"}>
        <div className="field">
          <label htmlFor="email">Email</label>
          <input
            ref={emailRef}
            id="email"
            name="email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete={isSignup ? "new-password" : "current-password"}
            required
            minLength={isSignup ? 8 : undefined}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-describedby={isSignup ? "password-hint" : undefined}
          />
          {isSignup && (
            <div id="password-hint" className="field-hint">
              At least 8 characters.
            </div>
          )}
          {!isSignup && (
            <div className="field-hint">
              <Link href="/forgot-password">Forgot password?</Link>
            </div>
          )}
        </div>
        <button type="submit" className="btn btn-primary" style={{ width: "100%" }} disabled={busy} data-testid="auth-submit">
          {busy ? <span className="spinner" aria-hidden="true" /> : null}
          {isSignup ? "Create account" : "Sign in"}
        </button>
      </form>
      <p className="auth-switch">
        {isSignup ? "Already have an account? " : "New here? "}
        <button type="button" className="btn-link" onClick={toggle} data-testid="auth-toggle">
          {isSignup ? "Sign in" : "Create an account"}
        </button>
      </p>
    </div>
  );
}
