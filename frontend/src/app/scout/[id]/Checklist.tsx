"use client";

import { useState, type FormEvent, type ReactNode } from "react";
import { ApiError, errorMessage } from "@/lib/api";
import { frequencyLabel } from "@/lib/format";
import type { Frequency, Place, Scout, ScoutLocation, ScoutPatch } from "@/lib/types";
import { FrequencySelect } from "@/components/FrequencySelect";
import { PlacePicker, placeCity, UseMyLocation } from "@/components/PlacePicker";

export const MAX_QUERIES = 5;

type Field = "title" | "goal" | "description" | "location" | "search_queries" | "frequency";

interface Item {
  key: Field;
  label: string;
  done: boolean;
  value: ReactNode;
}

function isAnywhere(loc: ScoutLocation | null): boolean {
  return loc?.city?.trim().toLowerCase() === "any";
}

function locationText(s: Scout): string | null {
  if (!s.location?.city) return null;
  return isAnywhere(s.location) ? "Anywhere (not tied to a place)" : s.location.city;
}

export function checklistItems(s: Scout): Item[] {
  const loc = locationText(s);
  return [
    { key: "title", label: "Title", done: !!s.title?.trim(), value: s.title },
    { key: "goal", label: "Goal", done: !!s.goal?.trim(), value: s.goal },
    { key: "description", label: "Description", done: !!s.description?.trim(), value: s.description },
    { key: "location", label: "Location", done: loc !== null, value: loc },
    {
      key: "search_queries",
      label: "Search queries",
      done: s.search_queries.length > 0,
      value: s.search_queries.length ? (
        <ul>
          {s.search_queries.map((q) => (
            <li key={q}>{q}</li>
          ))}
        </ul>
      ) : null,
    },
    { key: "frequency", label: "Frequency", done: s.frequency !== null, value: s.frequency ? frequencyLabel(s.frequency) : null },
  ];
}

/** Server messages name wire fields; a person reads words. */
function plainMessage(message: string): string {
  return message
    .replace(/\bsearch_queries\b/g, "search queries")
    .replace(/\blocation\.city\b/g, "the city")
    .replace(/\beach search query\b/g, "each query");
}

interface EditorProps {
  field: Field;
  scout: Scout;
  onSave(patch: ScoutPatch): Promise<unknown>;
  onDone(): void;
}

/** One field's inline form; keeps its draft until saved or cancelled. */
function FieldEditor({ field, scout, onSave, onDone }: EditorProps) {
  const [text, setText] = useState(() => (field === "title" || field === "goal" || field === "description" ? (scout[field] ?? "") : ""));
  const [city, setCity] = useState(() => (isAnywhere(scout.location) ? "" : (scout.location?.city ?? "")));
  const [anywhere, setAnywhere] = useState(() => isAnywhere(scout.location));
  // A city picked from the list (or found from the browser's position) brings coordinates.
  const [picked, setPicked] = useState<Place | null>(null);
  const [queries, setQueries] = useState<string[]>(() => (scout.search_queries.length ? [...scout.search_queries] : [""]));
  const [frequency, setFrequency] = useState<Frequency | null>(scout.frequency);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const errorId = `edit-${field}-error`;

  function patch(): ScoutPatch {
    switch (field) {
      case "title":
      case "goal":
      case "description":
        return { [field]: text.trim() || null };
      case "location":
        if (anywhere) return { location: { city: "any", latitude: null, longitude: null } };
        if (picked) return { location: { city: placeCity(picked), latitude: picked.latitude, longitude: picked.longitude } };
        if (!city.trim()) return { location: null };
        // A typed city keeps the coordinates only when it is the same place.
        if (scout.location && scout.location.city === city.trim()) return { location: scout.location };
        return { location: { city: city.trim(), latitude: null, longitude: null } };
      case "search_queries":
        return { search_queries: queries.map((q) => q.trim()).filter(Boolean) };
      case "frequency":
        return { frequency };
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setSaving(true);
    try {
      await onSave(patch());
      onDone();
    } catch (err) {
      setError(err instanceof ApiError ? plainMessage(err.message) : errorMessage(err));
    } finally {
      setSaving(false);
    }
  }

  const invalid = error ? { "aria-invalid": true, "aria-describedby": errorId } : {};
  let control: ReactNode;
  if (field === "title") {
    control = <input type="text" value={text} onChange={(e) => setText(e.target.value)} maxLength={100} aria-label="Title" autoFocus {...invalid} data-testid="edit-title-input" />;
  } else if (field === "goal" || field === "description") {
    const label = field === "goal" ? "Goal" : "Description";
    control = <textarea value={text} onChange={(e) => setText(e.target.value)} rows={3} aria-label={label} autoFocus {...invalid} data-testid={`edit-${field}-input`} />;
  } else if (field === "location") {
    const pick = (p: Place) => {
      setPicked(p);
      setCity(placeCity(p));
      // Choosing a city (typed or from the browser's position) ties the scout to it.
      setAnywhere(false);
    };
    control = (
      <>
        <PlacePicker
          label="City"
          text={city}
          onTextChange={(t) => {
            setCity(t);
            if (picked && t !== placeCity(picked)) setPicked(null);
          }}
          onPick={pick}
          isDisabled={anywhere}
          invalid={!!error}
          testId="edit-location-input"
        />
        <UseMyLocation onPick={pick} testId="edit-location-here" />
        <label className="inline-check">
          <input type="checkbox" checked={anywhere} onChange={(e) => setAnywhere(e.target.checked)} data-testid="edit-location-anywhere" />
          Not tied to a place
        </label>
      </>
    );
  } else if (field === "search_queries") {
    control = (
      <>
        <ul className="query-edit">
          {queries.map((q, i) => (
            <li key={i}>
              <input
                type="text"
                value={q}
                maxLength={200}
                onChange={(e) => setQueries((prev) => prev.map((x, j) => (j === i ? e.target.value : x)))}
                aria-label={`Search query ${i + 1}`}
                autoFocus={i === 0}
                {...invalid}
                data-testid="edit-query-input"
              />
              <button
                type="button"
                className="btn btn-small"
                onClick={() => setQueries((prev) => prev.filter((_, j) => j !== i))}
                aria-label={`Remove search query ${i + 1}`}
                data-testid="edit-query-remove"
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
        <button
          type="button"
          className="btn btn-small"
          onClick={() => setQueries((prev) => [...prev, ""])}
          disabled={queries.length >= MAX_QUERIES}
          data-testid="edit-query-add"
        >
          Add a query
        </button>
        <p className="field-hint">Up to {MAX_QUERIES} queries.</p>
      </>
    );
  } else {
    control = (
      <FrequencySelect
        value={frequency}
        onChange={setFrequency}
        invalid={!!error}
        describedBy={error ? errorId : undefined}
        autoFocus
        testId="edit-frequency-input"
      />
    );
  }

  return (
    <form className="field-edit" onSubmit={submit} data-testid={`edit-${field}-form`}>
      {control}
      {error && (
        <p className="field-error" id={errorId} role="alert" data-testid="field-error">
          {error}
        </p>
      )}
      <div className="row">
        <button type="submit" className="btn btn-small btn-primary" disabled={saving} data-testid={`edit-${field}-save`}>
          {saving ? "Saving…" : "Save"}
        </button>
        <button type="button" className="btn btn-small" onClick={onDone} disabled={saving}>
          Cancel
        </button>
      </div>
    </form>
  );
}

interface Props {
  scout: Scout;
  /** Saves through PATCH /api/scouts/{id}; rejects with the server's ApiError. */
  onSave(patch: ScoutPatch): Promise<unknown>;
}

export function Checklist({ scout, onSave }: Props) {
  const [editing, setEditing] = useState<Field | null>(null);
  const items = checklistItems(scout);
  const done = items.filter((i) => i.done).length;
  return (
    <>
      <div className="row" style={{ justifyContent: "space-between" }}>
        <h2 id="checklist-title" style={{ margin: 0 }}>
          Setup
        </h2>
        <span className="small muted" data-testid="checklist-progress">
          {done} of {items.length} set
        </span>
      </div>
      <p className="field-hint" style={{ marginTop: 0 }}>
        The assistant fills these in; you can change any of them here.
      </p>
      <ul className="checklist" aria-labelledby="checklist-title" data-testid="checklist">
        {items.map((i) => (
          <li key={i.key} data-done={i.done} data-testid={`check-${i.key}`}>
            <span className="check" aria-hidden="true">
              {i.done ? "✓" : ""}
            </span>
            <div>
              <div className="check-label">
                {i.label}
                <span className="visually-hidden">{i.done ? " (set)" : " (not set yet)"}</span>
                {editing !== i.key && (
                  <button
                    type="button"
                    className="btn-link check-edit"
                    onClick={() => setEditing(i.key)}
                    aria-label={`Edit ${i.label.toLowerCase()}`}
                    data-testid={`edit-${i.key}`}
                  >
                    Edit
                  </button>
                )}
              </div>
              {editing === i.key ? (
                <FieldEditor
                  field={i.key}
                  scout={scout}
                  onSave={onSave}
                  // A save that lands after another item was opened leaves that one open.
                  onDone={() => setEditing((current) => (current === i.key ? null : current))}
                />
              ) : (
                <div className="check-value">{i.value ?? <em>Not set yet</em>}</div>
              )}
            </div>
          </li>
        ))}
      </ul>
    </>
  );
}
