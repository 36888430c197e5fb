"""The places API's domain side: validate the question, ask the gazetteer off the event loop."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Any

from engine.errors import ValidationFailed
from engine.places.gazetteer import gazetteer

MAX_QUERY = 100


def _coordinate(raw: str, name: str, limit: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a number", field=name) from None
    if not math.isfinite(value) or abs(value) > limit:
        raise ValidationFailed(f"{name} must be between -{limit:g} and {limit:g}",
                               field=name)
    return value


async def find_places(params: Mapping[str, str]) -> list[dict[str, Any]]:
    """``q`` (a name prefix) lists matches; ``lat`` and ``lng`` give the nearest city."""
    if "q" in params:
        query = params["q"].strip()
        if not query or len(query) > MAX_QUERY:
            raise ValidationFailed(f"q must be 1 to {MAX_QUERY} characters", field="q")
        places = await asyncio.to_thread(lambda: gazetteer().search(query))
        return [p.view() for p in places]
    if "lat" in params or "lng" in params:
        if "lat" not in params or "lng" not in params:
            raise ValidationFailed("give both lat and lng", field="lat" if "lat" not in params
                                   else "lng")
        lat = _coordinate(params["lat"], "lat", 90)
        lng = _coordinate(params["lng"], "lng", 180)
        place = await asyncio.to_thread(lambda: gazetteer().nearest(lat, lng))
        return [place.view()]
    raise ValidationFailed("give q (a city name prefix) or lat and lng", field="q")
