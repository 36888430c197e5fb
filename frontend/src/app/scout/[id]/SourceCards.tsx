import type { ExecutionStep } from "@/lib/types";

interface SearchHit {
  title?: string;
  url?: string;
  description?: string;
  publishedDate?: string | null;
}

interface SearchOutput {
  query?: string;
  results?: SearchHit[];
  error?: string;
}

interface PageOutput {
  url?: string;
  title?: string;
  chars?: number;
  error?: string;
}

function domainOf(url: string | undefined): string | null {
  if (!url) return null;
  try {
    return new URL(url).hostname.replace(/^www\./, "");
  } catch {
    return null;
  }
}

/** Only http(s) links are rendered; anything else from a model stays text. */
function safeHref(url: string | undefined): string | undefined {
  return url && /^https?:\/\//i.test(url) ? url : undefined;
}

/**
 * A badge with the site's first letter, drawn here: fetching each site's icon would tell
 * every site what the owner reads, and the page would reach out to hosts other than ours.
 */
function SiteBadge({ domain }: { domain: string | null }) {
  if (!domain) return null;
  const letter = domain.replace(/^(www|m)\./, "").charAt(0).toUpperCase() || "?";
  // One of a few fixed tints, the same for a site every time, so cards are told apart at a glance.
  let hash = 0;
  for (const ch of domain) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return (
    <span className="site-badge" data-tint={hash % 6} aria-hidden="true" data-testid="site-badge">
      {letter}
    </span>
  );
}

function shortDate(iso: string | null | undefined): string | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d.toLocaleDateString(undefined, { dateStyle: "medium" });
}

function asList<T>(data: unknown): T[] {
  return Array.isArray(data) ? (data as T[]) : [];
}

function readAmount(chars: number | undefined): string {
  if (!chars) return "nothing readable";
  if (chars < 1000) return `${chars} characters read`;
  return `about ${Math.round(chars / 100) / 10}k characters read`;
}

/** What the run looked at: each search's results and each page it read. */
export function SourceCards({ steps }: { steps: ExecutionStep[] }) {
  const sorted = [...steps].sort((a, b) => a.step_number - b.step_number);
  const searches = sorted.filter((s) => s.step_type === "search").flatMap((s) => asList<SearchOutput>(s.output_data));
  const pages = sorted.filter((s) => s.step_type === "scrape").flatMap((s) => asList<PageOutput>(s.output_data));
  if (!searches.length && !pages.length) return null;
  return (
    <div className="sources" data-testid="sources">
      {pages.length > 0 && (
        <section>
          <h3>Pages read</h3>
          <ul className="source-grid">
            {pages.map((p, i) => (
              <li key={`${p.url}-${i}`} className="source-card" data-testid="page-card">
                <div className="source-site">
                  <SiteBadge domain={domainOf(p.url)} />
                  <span>{domainOf(p.url) ?? "unknown site"}</span>
                </div>
                <a href={safeHref(p.url)} target="_blank" rel="noopener noreferrer" className="source-title">
                  {p.title || p.url}
                </a>
                <p className="small muted">{p.error ? "Could not be read" : readAmount(p.chars)}</p>
              </li>
            ))}
          </ul>
        </section>
      )}
      {searches.map((s, i) => (
        <section key={`${s.query}-${i}`}>
          <h3>
            Searched for <q>{s.query}</q>
          </h3>
          {s.error ? (
            <p className="small muted">This search did not work.</p>
          ) : !s.results?.length ? (
            <p className="small muted">No results.</p>
          ) : (
            <ul className="source-grid">
              {s.results.map((r, j) => (
                <li key={`${r.url}-${j}`} className="source-card" data-testid="search-card">
                  <div className="source-site">
                    <SiteBadge domain={domainOf(r.url)} />
                    <span>{domainOf(r.url) ?? "unknown site"}</span>
                    {shortDate(r.publishedDate) && <span className="muted">· {shortDate(r.publishedDate)}</span>}
                  </div>
                  <a href={safeHref(r.url)} target="_blank" rel="noopener noreferrer" className="source-title">
                    {r.title || r.url}
                  </a>
                  {r.description && <p className="small muted source-snippet">{r.description}</p>}
                </li>
              ))}
            </ul>
          )}
        </section>
      ))}
    </div>
  );
}
