"""The trace matrix is generated, current, and leaves no regulation step without a test."""

from __future__ import annotations

from meshkit.mesh_runner import REPO_ROOT
from meshkit.traceability import clauses, link_tests, render, untested_steps
from shared.employment.regulations import RegulationBook


def test_the_checked_in_trace_matrix_is_current():
    committed = (REPO_ROOT / "docs" / "traceability.md").read_text()
    assert committed == render(), "docs/traceability.md is stale: run `make docs`"


def test_every_step_of_every_regulation_file_has_a_test():
    assert untested_steps() == []
    links = link_tests(RegulationBook.load())
    assert "tests/e2e/test_mio_workflow.py::test_a_case_runs_through_each_regulation_in_auto_mode" in links.every_file


def test_a_source_is_split_into_the_clauses_it_cites():
    assert clauses("п. 5, пп. 1;  п. 7,\tпп. 1") == ["п. 5, пп. 1", "п. 7, пп. 1"]
