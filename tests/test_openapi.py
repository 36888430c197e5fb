from __future__ import annotations

from aiohttp.test_utils import TestClient

from api.app import create_app


def served_routes(services) -> set[tuple[str, str]]:
    app = create_app(services, own_database=False)
    routes = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS", "*"):
            continue
        routes.add((route.method.lower(), route.resource.canonical))
    return routes


async def test_document_matches_the_routes(client: TestClient, services) -> None:
    async with client.get("/api/openapi.json") as resp:
        assert resp.status == 200
        document = await resp.json()
    assert document["openapi"].startswith("3.")
    described = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert described == served_routes(services)
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (method, path)
