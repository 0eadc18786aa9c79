"""`apply` then `settle` on real processes and a real RabbitMQ: the race the issue measured, run again and again.

Before (a new user's first pytest against a live mesh): `mesh.settle()` straight after `apply` raced the message it
should move — 2 of 6 runs timed out, nothing had reached ИС МИО yet; waiting by application number read ИС МИО's
view while the portal's notices lagged (4 of 5 runs failed); with four such tests at once an IN_PROGRESS notice
reached the portal 0.5 s after COMPLETED. Now each settle returns only when the portal has heard COMPLETED, and
the case is read there at once — no wait, no poll.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.mesh import MeshHandle

pytestmark = pytest.mark.e2e
DISTRICT = "kyzylorda"  # five steps of 20-30 minutes at autoShare 0.5: every run needs the clock to jump


def _apply_and_settle(mesh: MeshHandle) -> dict[str, Any]:
    """One user's first test: a citizen applies, the case is settled straight away, the portal is read once."""
    with mesh.kit() as kit:
        citizen = kit.new_citizen(district=DISTRICT, min_age=25, max_age=50, jobless=True)
        session = kit.login_eds(citizen)
        case = session.apply(citizen.signed_request("employment.job-seeker-registration"))
        settled = kit.settle(case["correlationId"], timeout_s=120)
        heard = kit.case(case["correlationId"])  # the portal's view, read once: no waiting
        notices = [n["status"] for n in kit.login_eds(citizen).notifications()
                   if n["applicationNumber"] == heard["applicationNumber"]]
    return {"settled": settled, "heard": heard, "notices": notices}


def _assert_heard(run: dict[str, Any]) -> None:
    settled, heard = run["settled"], run["heard"]
    assert settled["outcome"] == "settled", settled
    assert heard["status"] == "COMPLETED", (heard, settled)
    assert {(c["service"], c["status"]) for c in settled["cases"]} == {
        ("portal", "COMPLETED"), ("mio_workstation", "COMPLETED")}, settled
    assert run["notices"][-1] == "COMPLETED", run["notices"]
    assert "IN_PROGRESS" in run["notices"], run["notices"]


def test_apply_then_settle_six_times_in_a_row_completes_at_the_portal_each_time(mesh: MeshHandle):
    with mesh.kit() as kit:
        kit.set_mode(DISTRICT, "auto", auto_share=0.5)
    for _ in range(6):
        _assert_heard(_apply_and_settle(mesh))


def test_four_apply_and_settle_at_once_each_complete_at_the_portal(mesh: MeshHandle):
    """Four settles at once, each for its own case: their jumps do not add up, and each ends when its case is heard."""
    with mesh.kit() as kit:
        kit.set_mode(DISTRICT, "auto", auto_share=0.5)
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda _: _apply_and_settle(mesh), range(4)))
    for run in runs:
        _assert_heard(run)
