"""GET /api/places: city search and nearest city from the offline gazetteer."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from engine.places.gazetteer import fold
from tests.support import signup


async def test_prefix_search_lists_the_likely_city_first(client: TestClient) -> None:
    user = await signup(client, "places@example.com")
    status, body = await user.request("GET", "/api/places?q=den")
    assert status == 200
    first = body["places"][0]
    assert first["city"] == "Denver" and first["stateCode"] == "CO"
    assert first["state"] == "Colorado" and first["country"] == "United States"
    assert abs(first["latitude"] - 39.74) < 0.05 and abs(first["longitude"] + 104.98) < 0.05
    assert len(body["places"]) <= 10

    status, body = await user.request("GET", "/api/places?q=Portland,%20OR")
    assert [(p["city"], p["stateCode"]) for p in body["places"]] == [("Portland", "OR")]
    # Accents are optional when typing.
    status, body = await user.request("GET", "/api/places?q=sao%20paulo")
    assert body["places"][0]["city"] == "São Paulo"
    status, body = await user.request("GET", "/api/places?q=zzzzqqq")
    assert status == 200 and body["places"] == []


async def test_nearest_city_to_the_browser_position(client: TestClient) -> None:
    user = await signup(client, "near@example.com")
    status, body = await user.request("GET", "/api/places?lat=40.02&lng=-105.27")
    assert status == 200
    assert [p["city"] for p in body["places"]] == ["Boulder"]
    status, body = await user.request("GET", "/api/places?lat=48.86&lng=2.35")
    assert body["places"][0]["city"] == "Paris" and body["places"][0]["countryCode"] == "FR"


async def test_bad_questions_are_422_with_the_field(client: TestClient) -> None:
    user = await signup(client, "badplaces@example.com")
    for query, field in [("", "q"), ("?q=", "q"), ("?q=" + "x" * 101, "q"),
                         ("?lat=91&lng=0", "lat"), ("?lat=1&lng=abc", "lng"),
                         ("?lat=1", "lng"), ("?lat=nan&lng=1", "lat")]:
        status, body = await user.request("GET", f"/api/places{query}")
        assert status == 422, query
        assert body["error"]["field"] == field, query
    async with client.get("/api/places?q=den") as resp:
        assert resp.status == 401


def test_fold_ignores_case_and_accents() -> None:
    assert fold("  Zürich ") == "zurich"
    assert fold("SÃO") == "sao"
