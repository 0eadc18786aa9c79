"""The published contracts are the enforced ones: docs/asyncapi.json is regenerated from the code and must
match, and every service serves an OpenAPI document."""

from __future__ import annotations

import json

from meshkit.asyncapi import build, render
from meshkit.mesh_runner import REPO_ROOT


def test_asyncapi_document_is_current():
    committed = (REPO_ROOT / "docs" / "asyncapi.json").read_text()
    assert committed == render(), "docs/asyncapi.json is stale: run `make docs`"


def test_asyncapi_lists_every_contract_and_resolves_its_references():
    doc = build()
    assert "gbdfl.person-by-iin.REQUEST" in doc["components"]["messages"]
    text = json.dumps(doc)
    for name in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
        assert name in doc["components"]["schemas"], name
