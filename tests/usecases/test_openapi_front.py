"""What a client meets first on each service: Swagger UI and ReDoc that work without the internet (their scripts
from the package, not a CDN), a Latin title (a generated client's package name), and the routes' guards declared
as security schemes (Swagger's «Authorize»; a generated client's ``token=``).

Before: /docs and /redoc loaded their scripts from cdn.jsdelivr.net and rendered blank offline; titles were
«portal — ПЭП simulator» (Cyrillic package names); ``authorization`` was an ordinary header parameter."""

from __future__ import annotations

import re

import pytest

from tests.support.inprocess import SERVICES, InProcessMesh


@pytest.mark.parametrize("service", SERVICES)
async def test_docs_and_redoc_load_their_assets_from_the_service(inproc: InProcessMesh, service: str):
    async with inproc.client(service) as http:
        for page in ("/docs", "/redoc"):
            html = (await http.get(page)).text
            assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
            assert assets, page
            for asset in assets:
                assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
                answer = await http.get(asset)
                assert answer.status_code == 200, asset
                assert len(answer.content) > 1000, asset


@pytest.mark.parametrize("service", SERVICES)
def test_title_is_latin_and_admin_routes_name_their_security_scheme(inproc: InProcessMesh, service: str):
    document = inproc.app(service).openapi()
    assert document["info"]["title"].isascii()
    assert document["components"]["securitySchemes"]["adminToken"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]["adminToken"][
            "description"]}
    guarded = [op for item in document["paths"].values() for op in item.values()
               if isinstance(op, dict) and {"adminToken": []} in op.get("security", [])]
    assert guarded
    bare = [(path, method) for path, item in document["paths"].items() for method, op in item.items()
            if isinstance(op, dict) and any(p.get("in") == "header" and p["name"].lower() == "authorization"
                                            for p in op.get("parameters", []))]
    assert bare == [], "a bearer read from a bare header parameter is not declared as security"
