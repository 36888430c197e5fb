import { frequencyLabel } from "@/lib/format";
import type { Scout } from "@/lib/types";

interface Item {
  key: string;
  label: string;
  done: boolean;
  value: React.ReactNode;
}

function locationText(s: Scout): string | null {
  if (!s.location?.city) return null;
  return s.location.city.toLowerCase() === "any" ? "Anywhere (not tied to a place)" : s.location.city;
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

export function Checklist({ scout }: { scout: Scout }) {
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
              </div>
              <div className="check-value">{i.value ?? <em>Not set yet</em>}</div>
            </div>
          </li>
        ))}
      </ul>
    </>
  );
}
