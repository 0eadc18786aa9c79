"""One error catalogue: every code the source raises is in it, every code in it is raised, one status per code,
docs/errors.md is generated from it and current, and every error made is made through it."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

import shared.errors
from meshkit.error_scan import scan
from meshkit.errors_doc import render
from meshkit.mesh_runner import REPO_ROOT
from shared.error_catalogue import AREAS, CATALOGUE, Fault
from shared.errors import MeshError, RelayedError, UncataloguedCode, status_of

SOURCE = scan()

# What each fault may be answered with: a caller's or a stored state's refusal is 4xx, a refusal of who asks
# 401/403/423 (locked), a dependency's 502-504, the mesh's own 5xx.
FITTING = {
    Fault.CALLER: range(400, 500),
    Fault.STATE: range(400, 500),
    Fault.AUTH: (401, 403, 423),
    Fault.DEPENDENCY: (502, 503, 504),
    Fault.MESH: range(500, 600),
}
KEPT_AS_THEY_WERE = {
    # a registry file broken after start-up, found by POST /admin/registry/reset: answered 400 before the catalogue
    "REGISTRY_FILE_INVALID",
}


def test_every_code_the_source_raises_is_catalogued():
    uncatalogued = {use.code: f"{use.path}:{use.line}" for use in SOURCE.uses if use.code not in CATALOGUE}
    assert uncatalogued == {}, "catalogue these in shared/error_catalogue.py (status, fault, meaning)"


def test_no_code_is_built_at_run_time():
    assert SOURCE.dynamic == [], "write the codes out (a map named *_CODES) so the catalogue test can see them"


def test_every_catalogued_code_is_raised_somewhere():
    assert sorted(set(CATALOGUE) - SOURCE.codes) == [], "raised nowhere: take them out of the catalogue"


def test_the_scan_sees_each_way_a_code_is_used(tmp_path: Path):
    source = tmp_path / "example.py"
    source.write_text(textwrap.dedent('''
        from shared.errors import MeshError

        class LocalError(MeshError):
            pass

        _KIND_CODES = {"a": "CODE_FROM_MAP", "b": ("CODE_IN_TUPLE", "a sentence, not a code")}
        NOT_A_CODE = "Client.FromConstant"

        def refuse(exc, kind):
            raise LocalError("CODE_FROM_SUBCLASS", "message")

        def relay(exc):
            raise MeshError(exc.code, exc.message)

        def conditional(flag):
            return Refusal("CODE_IF" if flag else "CODE_ELSE", "message")

        def built(kind):
            raise MeshError(f"{kind}_LENGTH", "message")
    '''))
    found = scan(root=tmp_path, files=[source])
    assert found.codes == {"CODE_FROM_MAP", "CODE_IN_TUPLE", "Client.FromConstant", "CODE_FROM_SUBCLASS", "CODE_IF",
                           "CODE_ELSE"}
    assert [d.source for d in found.dynamic] == ["f'{kind}_LENGTH'"]


def test_each_status_fits_its_fault_and_each_code_says_what_it_means():
    unfit = {e.code: (e.status, e.fault.value) for e in CATALOGUE.values()
             if e.status not in FITTING[e.fault] and e.code not in KEPT_AS_THEY_WERE}
    assert unfit == {}
    assert [e.code for e in CATALOGUE.values() if not e.description.strip() or e.area not in AREAS] == []


def test_an_error_takes_its_status_from_the_catalogue():
    assert MeshError("PASSWORD_WRONG", "wrong").status == 401
    assert MeshError("SCAN_NOT_FOUND", "no scan").status == status_of("SCAN_NOT_FOUND") == 404
    assert RelayedError("Client.AccessDenied", "relayed", status=502).status == 502, "a relayed code keeps its hop's"


def test_an_uncatalogued_code_fails_the_suite_and_is_a_500_in_a_service(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(UncataloguedCode):
        MeshError("NO_SUCH_CODE", "made up")
    monkeypatch.setattr(shared.errors, "strict", False)
    assert MeshError("NO_SUCH_CODE", "made up").status == 500


STATUS_BESIDE_CODE = re.compile(r"\b([1-5]\d\d)\s*`?\s*((?:Client|Server)\.[A-Za-z]+|[A-Z][A-Z0-9_]{3,})\b")


def test_a_status_written_beside_a_code_is_the_codes():
    """Route descriptions, docstrings and the docs say «`401 PASSWORD_WRONG`»: the status is the catalogue's."""
    texts = [p for top in ("services", "shared", "meshkit") for p in (REPO_ROOT / top).rglob("*.py")]
    texts += [REPO_ROOT / "README.md", *(REPO_ROOT / "docs").rglob("*.md")]
    wrong = [f"{path.relative_to(REPO_ROOT)}:{number}: {status} {code} (catalogued {CATALOGUE[code].status})"
             for path in texts for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             for status, code in STATUS_BESIDE_CODE.findall(line)
             if code in CATALOGUE and CATALOGUE[code].status != int(status)]
    assert wrong == []


def test_the_checked_in_error_reference_is_current():
    committed = (REPO_ROOT / "docs" / "errors.md").read_text()
    assert committed == render(), "docs/errors.md is stale: run `make docs`"
