"use client";

import * as Switch from "@radix-ui/react-switch";
import { useId } from "react";
import { scoutStateLabel } from "@/lib/format";
import type { Scout } from "@/lib/types";

interface Props {
  scout: Pick<Scout, "title" | "is_active" | "is_complete">;
  busy?: boolean;
  onChange(active: boolean): void;
  /** Names the scout for screen readers where several switches share a page. */
  label: string;
  testId?: string;
}

/** The one on/off control for a scout, on its page and in the list, with the same words. */
export function ActiveSwitch({ scout, busy, onChange, label, testId = "scout-active-toggle" }: Props) {
  const id = useId();
  return (
    <div className="switch">
      <Switch.Root
        id={id}
        className="switch-root"
        checked={scout.is_active}
        disabled={busy}
        onCheckedChange={onChange}
        aria-label={label}
        data-testid={testId}
      >
        <Switch.Thumb className="switch-thumb" />
      </Switch.Root>
      <label htmlFor={id} className="switch-text" data-testid="scout-state">
        {scoutStateLabel(scout)}
      </label>
    </div>
  );
}
