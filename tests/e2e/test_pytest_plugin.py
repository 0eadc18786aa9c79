"""The pytest plugin (issue 20) as a tester uses it: the README's test file copied into a directory of its own,
outside this suite, run by pytest with the plugin the package installs (its ``pytest11`` entry point) on a mesh the
plugin starts for that session — and beside it a test with a scenario of its own, one with a fault rule removed when
it ends, and one that fails on purpose, whose failure says what was expected, what the mesh did instead and where
the case is explained."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docs_pages import page_block

pytestmark = pytest.mark.e2e

MORE = '''
def test_a_scenario_refuses_this_flow_only(egov_mesh, egov_citizen, egov_expect, egov_scenario):
    no_data = egov_scenario("gbdfl:no-data")                              # removed when the test ends
    citizen = egov_citizen(district="kyzylorda", jobless=True)
    session = egov_mesh.login_eds(citizen)
    forced = session.apply(citizen.signed_request("employment.job-seeker-registration"), scenario=no_data)
    received = egov_expect.status(forced["correlationId"], "RECEIVED")
    egov_mesh.settle(received["applicationNumber"])
    egov_expect.status(forced["correlationId"], "REFUSED")


def test_a_fault_for_this_test_alone(egov_mesh, egov_citizen, egov_expect, egov_chaos):
    egov_chaos.add(kind="duplicate", recipient="portal", message_type="NOTIFICATION", times=1)
    citizen = egov_citizen(district="kyzylorda", jobless=True)
    case = egov_mesh.login_eds(citizen).apply(citizen.signed_request("employment.job-seeker-registration"))
    egov_expect.status(case["correlationId"], "RECEIVED")                  # the notice delivered twice: heard once
    assert [f["fault"] for f in egov_mesh.chaos_kit.fired()] == ["duplicate"]


def test_the_fault_was_removed_when_its_test_ended(egov_mesh):
    assert egov_mesh.chaos_kit.rules() == []


def test_a_status_that_never_comes(egov_mesh, egov_citizen, egov_expect):
    citizen = egov_citizen(district="kyzylorda", jobless=True)
    case = egov_mesh.login_eds(citizen).apply(citizen.signed_request("employment.job-seeker-registration"))
    egov_expect.status(case["correlationId"], "REFUSED", timeout_s=5)     # it is never refused
'''


def test_the_plugin_is_installed_with_the_package():
    names = {entry.name: entry.value for entry in importlib.metadata.entry_points(group="pytest11")}
    assert names.get("egov_mesh") == "meshkit.pytest_plugin", names


def test_the_readme_test_file_runs_with_the_plugin_on_a_mesh_it_starts(tmp_path: Path):
    (tmp_path / "test_job_seekers.py").write_text(page_block("README.md", "def test_a_job_seeker_registration"))
    (tmp_path / "test_more.py").write_text(MORE)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MESH_FILE", "PYTEST_ADDOPTS")}
    ran = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--egov-mesh", "start",
                          "test_job_seekers.py", "test_more.py"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=900, check=False)
    out = ran.stdout + ran.stderr
    assert "1 failed, 4 passed" in out, out[-4000:]
    assert "test_more.py::test_a_status_that_never_comes" in out
    assert "expected 1 journal entry matching" in out, "what was expected"
    assert "seen instead:" in out, "what the mesh did"
    assert "portal consumed NOTIFICATION" in out, "the notices the portal did hear, among the nearest misses"
    assert "/explain.svg" in out, "where the case is explained"
