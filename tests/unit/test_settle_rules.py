"""When a case counts as settled, and what a settle request must say (services/shep_gateway/usecases/settle.py)."""

from __future__ import annotations

import pytest

from services.shep_gateway.usecases.settle import MAX_JUMPS, MAX_TIMEOUT_S, check_request, settled_case
from shared.errors import MeshError
from shared.mesh.in_flight import CaseSeen

MIO_DONE = CaseSeen(role="provider", status="COMPLETED", application_number="KZO-2026-000001")


def test_a_case_is_settled_once_everyone_following_it_has_heard_the_final_status():
    """ИС МИО's COMPLETED alone is not enough: the portal's notice may still be on its way."""
    assert not settled_case([MIO_DONE, CaseSeen(role="origin", status="IN_PROGRESS")])
    assert settled_case([MIO_DONE, CaseSeen(role="origin", status="COMPLETED")])
    assert settled_case([MIO_DONE])  # an office application nobody else follows
    assert not settled_case([CaseSeen(role="provider", status="IN_PROGRESS"), CaseSeen(role="origin", status="SENT")])


def test_a_case_refused_before_it_reached_mio_is_settled_where_it_was_sent():
    assert settled_case([CaseSeen(role="origin", status="FAILED")])
    assert not settled_case([CaseSeen(role="origin", status="SENT")])  # on its way: ИС МИО has not heard of it yet
    assert not settled_case([])


@pytest.mark.parametrize(("timeout_s", "max_jumps", "code"), [
    (None, 500, "SETTLE_TIMEOUT_REQUIRED"), (0, 500, "SETTLE_TIMEOUT_OUT_OF_RANGE"),
    (MAX_TIMEOUT_S + 1, 500, "SETTLE_TIMEOUT_OUT_OF_RANGE"), (-5, 500, "SETTLE_TIMEOUT_OUT_OF_RANGE"),
    (60, -1, "SETTLE_JUMPS_OUT_OF_RANGE"), (60, MAX_JUMPS + 1, "SETTLE_JUMPS_OUT_OF_RANGE")])
def test_a_settle_must_be_bounded(timeout_s: float | None, max_jumps: int, code: str):
    with pytest.raises(MeshError) as refused:
        check_request(timeout_s=timeout_s, max_jumps=max_jumps)
    assert refused.value.code == code


def test_a_bounded_settle_passes():
    assert check_request(timeout_s=MAX_TIMEOUT_S, max_jumps=0) == MAX_TIMEOUT_S
