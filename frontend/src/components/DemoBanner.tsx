"use client";

import { useQuery } from "@tanstack/react-query";
import { appConfig } from "@/lib/api";

/** Says plainly that the answers come from built-in demo services, not the real web. */
export function DemoBanner() {
  const { data } = useQuery({ queryKey: ["config"], queryFn: appConfig, staleTime: Infinity, retry: false });
  if (!data?.demo_mode) return null;
  return (
    <div className="demo-banner" role="note" data-testid="demo-banner">
      <strong>Demo mode.</strong> Searches, pages and reports come from built-in demo services, not the real web.
    </div>
  );
}
