"use client";

import { useEffect, useRef } from "react";

// A search hit may point at an old run; page back at most this far to find it.
const MAX_PAGES = 10;
const RUN_HASH = /^#run-([0-9a-f-]{36})$/i;

/** True when the address names a run (a search result link): open the reports then. */
export function addressNamesRun(): boolean {
  return RUN_HASH.test(window.location.hash);
}

/** The run the address names (`#run-<id>`), if any. */
export function linkedRunId(): string | null {
  if (typeof window === "undefined") return null;
  return RUN_HASH.exec(window.location.hash)?.[1]?.toLowerCase() ?? null;
}

/**
 * Brings the run named in the address (`#run-<id>`, how search results link to
 * a run) into view and marks it, loading older pages until it is on screen.
 */
export function useRunAnchor(runIds: string[] | null, loadMore: (() => Promise<void>) | null, loading: boolean) {
  const settled = useRef(false);
  const pages = useRef(0);

  useEffect(() => {
    if (settled.current || runIds === null) return;
    const wanted = RUN_HASH.exec(window.location.hash)?.[1]?.toLowerCase();
    if (!wanted) {
      settled.current = true;
      return;
    }
    if (runIds.includes(wanted)) {
      const el = document.getElementById(`run-${wanted}`);
      if (!el) return;
      settled.current = true;
      el.setAttribute("data-highlight", "true");
      el.scrollIntoView({ block: "start" });
      return;
    }
    if (loading) return;
    if (loadMore && pages.current < MAX_PAGES) {
      pages.current += 1;
      void loadMore();
    } else {
      settled.current = true;
    }
  }, [runIds, loadMore, loading]);
}
