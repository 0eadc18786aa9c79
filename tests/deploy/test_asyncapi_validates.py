"""docs/asyncapi.json passes the official AsyncAPI validator, `asyncapi validate` of @asyncapi/cli, pinned in
tools/asyncapi/ (package.json, package-lock.json): no error, no warning.

node and npm come from Debian when missing (deploy/ensure-system-deps.sh, as root); the CLI from the npm registry,
by `npm ci` into tools/asyncapi/node_modules (git-ignored), again only when the lockfile changes. Install scripts
are not run (the CLI's would add shell completion to ~/.bashrc) and the CLI's usage metrics are off."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from meshkit.mesh_runner import REPO_ROOT

TOOLING = REPO_ROOT / "tools" / "asyncapi"
CLI = TOOLING / "node_modules" / ".bin" / "asyncapi"
STAMP = TOOLING / "node_modules" / ".egov-mesh-lock-sha256"  # the lockfile node_modules was installed from
DOCUMENT = REPO_ROOT / "docs" / "asyncapi.json"
ERROR, WARNING, INFORMATION, HINT = 0, 1, 2, 3  # the diagnostics' severities
WARNINGS = 0  # what the published document has: it may only go down
# The one remark allowed: AsyncAPI 3.1.0 exists. The document is 3.0.0, as issue 18 asks.
INFORMATION_ALLOWED = {"asyncapi-latest-version"}


@pytest.fixture(scope="module")
def asyncapi() -> Path:
    deps = subprocess.run([str(REPO_ROOT / "deploy" / "ensure-system-deps.sh"), "nodejs", "npm"],
                          capture_output=True, text=True, check=False)
    assert deps.returncode == 0, f"node and npm are needed for the AsyncAPI validator: {deps.stderr}"
    lock = hashlib.sha256((TOOLING / "package-lock.json").read_bytes()).hexdigest()
    if not (CLI.exists() and STAMP.exists() and STAMP.read_text() == lock):
        npm = shutil.which("npm")
        assert npm, "npm is not on PATH"
        installed = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=TOOLING,
                                   capture_output=True, text=True, timeout=900, check=False)
        assert installed.returncode == 0, installed.stderr[-4000:]
        STAMP.write_text(lock)
    pinned = json.loads((TOOLING / "package.json").read_text())["dependencies"]["@asyncapi/cli"]
    running = json.loads((TOOLING / "node_modules" / "@asyncapi" / "cli" / "package.json").read_text())["version"]
    assert running == pinned
    return CLI


def validate(cli: Path, document: Path, home: Path) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """``asyncapi validate`` with its diagnostics (every severity) as JSON; HOME a temporary directory, so the
    CLI writes nothing of its own (metrics settings, contexts) into the user's."""
    settings = home / "asyncapi-analytics.json"
    settings.write_text(json.dumps({"analyticsEnabled": "false", "infoMessageShown": "true", "userID": "egov-mesh"}))
    saved = home / "diagnostics.json"
    env = {**os.environ, "HOME": str(home), "ASYNCAPI_METRICS_CONFIG_PATH": str(settings), "CI": "true"}
    result = subprocess.run([str(cli), "validate", str(document), "--diagnostics-format", "json",
                             "--save-output", str(saved)], env=env, capture_output=True, text=True, timeout=300,
                            check=False)
    return result, json.loads(saved.read_text()) if saved.exists() else []


def _said(diagnostics: list[dict[str, Any]], severity: int) -> list[str]:
    return [f"{d['code']} at {'.'.join(map(str, d['path']))}: {d['message']}" for d in diagnostics
            if d["severity"] == severity]


def test_the_published_document_is_valid_asyncapi_without_a_warning(asyncapi, tmp_path):
    result, diagnostics = validate(asyncapi, DOCUMENT, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _said(diagnostics, ERROR) == []
    assert len(_said(diagnostics, WARNING)) == WARNINGS, _said(diagnostics, WARNING)
    assert {d["code"] for d in diagnostics if d["severity"] >= INFORMATION} <= INFORMATION_ALLOWED, diagnostics


def test_the_validator_refuses_a_broken_document(asyncapi, tmp_path):
    """It does validate: an operation on a channel the document lacks is an error, and fails the command."""
    broken = json.loads(DOCUMENT.read_text())
    broken["operations"]["callGbdflPersonByIin"]["channel"] = {"$ref": "#/channels/nowhere"}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result, diagnostics = validate(asyncapi, path, tmp_path)
    assert result.returncode != 0
    assert _said(diagnostics, ERROR), result.stdout + result.stderr
