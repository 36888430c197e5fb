"use client";

import { useDemoMode } from "@/lib/queries";

/** Says plainly that the answers come from built-in demo services, not the real web. */
export function DemoBanner() {
  if (!useDemoMode()) return null;
  return (
    <div className="demo-banner" role="note" data-testid="demo-banner">
      <strong>Demo mode.</strong> Searches, pages and reports come from built-in demo services, not the real web.
    </div>
  );
}
