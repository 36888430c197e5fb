"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { ComboBox, Input, Label, ListBox, ListBoxItem, Popover } from "react-aria-components";
import { errorMessage, places as placesApi } from "@/lib/api";
import type { Place } from "@/lib/types";

export function placeLabel(p: Place): string {
  return [p.city, p.state, p.country].filter(Boolean).join(", ");
}

/** What a scout stores as its city: enough to tell Portland, Oregon from Portland, Maine. */
export function placeCity(p: Place): string {
  return `${p.city}, ${p.state ?? p.country}`;
}

const placeKey = (p: Place) => `${p.city}|${p.latitude}|${p.longitude}`;

interface Props {
  label: string;
  /** The text in the box (a typed city without coordinates is allowed). */
  text: string;
  onTextChange(text: string): void;
  onPick(place: Place): void;
  isDisabled?: boolean;
  testId?: string;
  invalid?: boolean;
  /** What the box holds once a city is picked. */
  pickedText?: (p: Place) => string;
}

/** A searchable city box (React Aria ComboBox) answered by GET /api/places. */
export function PlacePicker({ label, text, onTextChange, onPick, isDisabled, testId = "place-input", invalid, pickedText = placeCity }: Props) {
  const query = text.trim();
  // Once a city is picked the box holds its name; searching that again would reopen the list.
  const [pickedAs, setPickedAs] = useState<string | null>(null);
  const { data, isFetching } = useQuery({
    queryKey: ["places", query.toLowerCase()],
    queryFn: () => placesApi.search(query),
    enabled: query.length >= 2 && !isDisabled && text !== pickedAs,
    placeholderData: keepPreviousData,
    staleTime: Infinity,
  });
  const items = (query.length >= 2 ? data : undefined) ?? [];
  return (
    <ComboBox
      className="place-picker"
      items={items}
      inputValue={text}
      onInputChange={onTextChange}
      onSelectionChange={(key) => {
        const picked = items.find((p) => placeKey(p) === key);
        if (picked) {
          setPickedAs(pickedText(picked));
          onPick(picked);
        }
      }}
      allowsCustomValue
      // Opens while the answer is on its way; the list fills in when it arrives.
      allowsEmptyCollection
      menuTrigger="input"
      isDisabled={isDisabled}
      // The server's message says what is wrong; a native invalid state would block the
      // form from being sent again to fix it.
      validationBehavior="aria"
    >
      <Label>{label}</Label>
      <Input placeholder="Start typing a city" data-testid={testId} aria-invalid={invalid || undefined} />
      <Popover className="place-popover" placement="bottom start">
        <ListBox
          className="place-list"
          data-testid="place-options"
          renderEmptyState={() => <div className="place-empty">{query.length < 2 ? "Type at least two letters" : isFetching ? "Searching…" : "No city by that name; it is kept as typed"}</div>}
        >
          {(p: Place) => (
            // textValue is what the box holds once picked; the option shows the full name.
            <ListBoxItem id={placeKey(p)} textValue={pickedText(p)} className="place-option">
              {placeLabel(p)}
            </ListBoxItem>
          )}
        </ListBox>
      </Popover>
    </ComboBox>
  );
}

/** Browser geolocation, then the nearest city from our own gazetteer (no third party). */
export function UseMyLocation({ onPick, testId = "use-my-location" }: { onPick(place: Place): void; testId?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  function locate() {
    setError(null);
    if (!("geolocation" in navigator)) {
      setError("This browser cannot tell where you are. Type your city instead.");
      return;
    }
    setBusy(true);
    navigator.geolocation.getCurrentPosition(
      async (pos) => {
        try {
          onPick(await placesApi.nearest(pos.coords.latitude, pos.coords.longitude));
        } catch (err) {
          setError(errorMessage(err));
        } finally {
          setBusy(false);
        }
      },
      () => {
        setBusy(false);
        setError("Your browser did not share your location. Type your city instead.");
      },
      { timeout: 15_000, maximumAge: 600_000 },
    );
  }

  return (
    <div>
      <button type="button" className="btn btn-small" onClick={locate} disabled={busy} data-testid={testId}>
        {busy ? "Finding you…" : "Use my location"}
      </button>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
