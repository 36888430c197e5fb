"use client";

import { Button, Label, ListBox, ListBoxItem, Popover, Select, SelectValue, type Key } from "react-aria-components";
import { FREQUENCY_LABELS } from "@/lib/format";
import type { Frequency } from "@/lib/types";

const FREQUENCIES = Object.keys(FREQUENCY_LABELS) as Frequency[];

interface Props {
  value: Frequency | null;
  onChange(value: Frequency): void;
  invalid?: boolean;
  describedBy?: string;
  autoFocus?: boolean;
  testId?: string;
}

/**
 * How often a scout runs, as a React Aria Select: a button that opens a list box, operated
 * with the arrow keys, Enter and typing a letter, announced as a select by screen readers.
 */
export function FrequencySelect({ value, onChange, invalid, describedBy, autoFocus, testId = "frequency-select" }: Props) {
  return (
    <Select
      className="select"
      value={value}
      onChange={(key: Key | null) => {
        if (key !== null) onChange(String(key) as Frequency);
      }}
      placeholder="Choose how often"
      isInvalid={invalid}
      aria-describedby={describedBy}
      autoFocus={autoFocus}
    >
      <Label className="visually-hidden">Frequency</Label>
      <Button className="select-button" data-testid={testId}>
        <SelectValue />
        <span className="select-arrow" aria-hidden="true">
          ▾
        </span>
      </Button>
      <Popover className="place-popover" placement="bottom start">
        <ListBox className="place-list" data-testid={`${testId}-options`}>
          {FREQUENCIES.map((f) => (
            <ListBoxItem key={f} id={f} className="place-option" data-testid={`frequency-option-${f}`}>
              {FREQUENCY_LABELS[f]}
            </ListBoxItem>
          ))}
        </ListBox>
      </Popover>
    </Select>
  );
}
