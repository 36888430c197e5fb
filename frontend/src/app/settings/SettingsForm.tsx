"use client";

import * as Switch from "@radix-ui/react-switch";
import { useRouter } from "next/navigation";
import { useEffect, useState, type FormEvent } from "react";
import { ApiError, errorMessage, preferences as prefsApi } from "@/lib/api";
import { useAuth, useRequireUser } from "@/lib/auth";
import { formatDateTime, formatDuration } from "@/lib/format";
import { useDemoMode, useSecondsUntil } from "@/lib/queries";
import type { Place, Preferences } from "@/lib/types";
import { PlacePicker, UseMyLocation } from "@/components/PlacePicker";
import { ErrorAlert, Loading } from "@/components/Feedback";

interface FormState {
  city: string;
  state: string;
  country: string;
  latitude: string;
  longitude: string;
  email: string;
  enabled: boolean;
}

function toForm(p: Preferences): FormState {
  return {
    city: p.location?.city ?? "",
    state: p.location?.state ?? "",
    country: p.location?.country ?? "",
    latitude: p.location?.latitude != null ? String(p.location.latitude) : "",
    longitude: p.location?.longitude != null ? String(p.location.longitude) : "",
    email: p.notification_email ?? "",
    enabled: p.notifications_enabled,
  };
}

function parseCoord(raw: string, limit: number, name: string): number | null {
  if (!raw.trim()) return null;
  const n = Number(raw);
  if (!Number.isFinite(n) || Math.abs(n) > limit) throw new Error(`${name} must be a number between -${limit} and ${limit}.`);
  return n;
}

function fromForm(f: FormState): Preferences {
  const latitude = parseCoord(f.latitude, 90, "Latitude");
  const longitude = parseCoord(f.longitude, 180, "Longitude");
  const city = f.city.trim();
  if (!city && (f.state.trim() || f.country.trim() || latitude !== null || longitude !== null)) {
    throw new Error("Enter a city, or clear the location fields.");
  }
  return {
    location: city
      ? { city, state: f.state.trim() || null, country: f.country.trim() || null, latitude, longitude }
      : null,
    notification_email: f.email.trim() || null,
    notifications_enabled: f.enabled,
  };
}

export function SettingsForm() {
  const user = useRequireUser();
  const { logout } = useAuth();
  const router = useRouter();
  const [form, setForm] = useState<FormState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    if (!user) return;
    prefsApi
      .get()
      .then((p) => setForm(toForm(p)))
      .catch((err) => setError(errorMessage(err)));
  }, [user]);

  function set<K extends keyof FormState>(key: K, value: FormState[K]) {
    setSaved(false);
    setForm((f) => (f ? { ...f, [key]: value } : f));
  }

  function pickPlace(p: Place) {
    setSaved(false);
    setForm((f) =>
      f
        ? { ...f, city: p.city, state: p.state ?? "", country: p.country, latitude: String(p.latitude), longitude: String(p.longitude) }
        : f,
    );
  }

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (!form) return;
    setError(null);
    setSaved(false);
    let body: Preferences;
    try {
      body = fromForm(form);
    } catch (err) {
      setError(errorMessage(err));
      return;
    }
    setSaving(true);
    try {
      setForm(toForm(await prefsApi.put(body)));
      setSaved(true);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setSaving(false);
    }
  }

  async function signOut() {
    await logout();
    router.push("/login");
  }

  if (!user || (!form && !error)) return <Loading label="Loading settings…" />;

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Settings</h1>
          <p>Where you are and how scouts reach you.</p>
        </div>
      </div>
      <ErrorAlert message={error} />
      {form && (
        <form className="card" onSubmit={onSubmit} aria-labelledby="prefs-title">
          <h2 id="prefs-title">Preferences</h2>
          <fieldset style={{ border: "none", padding: 0, margin: "0 0 0.5rem" }}>
            <legend className="check-label" style={{ marginBottom: "0.5rem", padding: 0 }}>
              Your location
            </legend>
            <p className="small muted">Used when you ask a scout to look &ldquo;near me&rdquo;.</p>
            <div className="grid-2">
              <div className="field">
                <PlacePicker label="City" text={form.city} onTextChange={(t) => set("city", t)} onPick={pickPlace} testId="settings-city" pickedText={(p) => p.city} />
                <UseMyLocation onPick={pickPlace} testId="settings-use-location" />
              </div>
              <div className="field">
                <label htmlFor="state">State or region</label>
                <input id="state" type="text" autoComplete="address-level1" value={form.state} onChange={(e) => set("state", e.target.value)} />
              </div>
              <div className="field">
                <label htmlFor="country">Country</label>
                <input id="country" type="text" autoComplete="country-name" value={form.country} onChange={(e) => set("country", e.target.value)} />
              </div>
              {/* Picking a place fills these in; few people will ever type them. */}
              <details className="field coordinates">
                <summary className="small">
                  Coordinates: {form.latitude && form.longitude ? `${form.latitude}, ${form.longitude}` : "none"}
                </summary>
                <div className="grid-2">
                  <div className="field">
                    <label htmlFor="latitude">Latitude</label>
                    <input id="latitude" type="text" inputMode="decimal" value={form.latitude} onChange={(e) => set("latitude", e.target.value)} />
                  </div>
                  <div className="field">
                    <label htmlFor="longitude">Longitude</label>
                    <input id="longitude" type="text" inputMode="decimal" value={form.longitude} onChange={(e) => set("longitude", e.target.value)} />
                  </div>
                </div>
              </details>
            </div>
          </fieldset>
          <div className="field">
            <label htmlFor="notify-email">Notification email</label>
            <input
              id="notify-email"
              type="email"
              autoComplete="email"
              placeholder={user.email}
              value={form.email}
              onChange={(e) => set("email", e.target.value)}
              aria-describedby="notify-email-hint"
            />
            <div id="notify-email-hint" className="field-hint">
              Leave empty to use your account email.
            </div>
          </div>
          <div className="field switch">
            <Switch.Root
              id="notify-toggle"
              className="switch-root"
              checked={form.enabled}
              onCheckedChange={(on) => set("enabled", on)}
              data-testid="notifications-toggle"
            >
              <Switch.Thumb className="switch-thumb" />
            </Switch.Root>
            <label htmlFor="notify-toggle" className="switch-text">
              Email me when a scout finds something new
            </label>
          </div>
          <div className="row">
            <button type="submit" className="btn btn-primary" disabled={saving} data-testid="settings-save">
              {saving ? "Saving…" : "Save preferences"}
            </button>
            {saved && (
              <span className="small" style={{ color: "var(--ok)" }} role="status">
                Saved.
              </span>
            )}
          </div>
        </form>
      )}
      {form && <TestEmail />}
      <section className="card" aria-labelledby="account-title">
        <h2 id="account-title">Account</h2>
        <p>
          Signed in as <strong data-testid="account-email">{user.email}</strong>
          <br />
          <span className="small muted">Member since {formatDateTime(user.created_at)}</span>
        </p>
        <button type="button" className="btn btn-danger" onClick={signOut} data-testid="signout">
          Sign out
        </button>
      </section>
    </>
  );
}

/** Sends one test email to the saved address; the server allows one per 2 minutes. */
function TestEmail() {
  const demo = useDemoMode();
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const [nextAt, setNextAt] = useState<string | null>(null);
  const wait = useSecondsUntil(nextAt);

  async function send() {
    setError(null);
    setSentTo(null);
    setSending(true);
    try {
      setSentTo(await prefsApi.testEmail());
      setNextAt(new Date(Date.now() + 120_000).toISOString());
    } catch (err) {
      if (err instanceof ApiError && err.status === 429 && err.retryAfterSeconds) {
        setNextAt(new Date(Date.now() + err.retryAfterSeconds * 1000).toISOString());
      } else if (err instanceof ApiError && err.code === "mail_off") {
        setError("Email is not set up on this server yet, so scouts cannot email you. Ask whoever runs it to set SMTP_URL.");
      } else setError(errorMessage(err));
    } finally {
      setSending(false);
    }
  }

  return (
    <section className="card" aria-labelledby="test-email-title">
      <h2 id="test-email-title">Test email</h2>
      <p className="small muted">Check that scout reports reach you. It goes to the saved notification address.</p>
      <ErrorAlert message={error} />
      <div className="row">
        <button type="button" className="btn" onClick={send} disabled={sending || wait > 0} data-testid="test-email">
          {sending ? "Sending…" : "Send a test email"}
        </button>
        <span className="small" role="status" data-testid="test-email-status">
          {sentTo ? `Sent to ${sentTo}${demo ? " (in demo mode the demo mail server catches it)" : ""}. ` : ""}
          {wait > 0 ? `You can send another in ${formatDuration(wait)}.` : ""}
        </span>
      </div>
    </section>
  );
}
