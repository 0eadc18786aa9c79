"""`make bench`'s steady run splits submit → final into the simulated staff's scheduled wait and the mesh's own
time: read off ИС МИО's timeline (served here by a fake ИС МИО over httpx's in-memory transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx

from bench.steady import _split
from meshkit.load import Applicant, Lane, Person
from services.mio_workstation.schemas import ApplicationOut, StepOut


def _step(started: str, auto: str | None, actor: str) -> dict[str, Any]:
    """A timeline entry as ИС МИО's API shapes it (its own model, so a renamed field fails here)."""
    return StepOut(position=0, step="decide", role="executor", action="decide", max="3 working days",
                   started_at=f"2026-12-04T10:00:{started}+00:00", due_at="2026-12-09T10:00:00+00:00",
                   auto_at=f"2026-12-04T10:00:{auto}+00:00" if auto else None, done=[], finished_at=None,
                   actor=actor, overdue=False).model_dump(by_alias=True)


TIMELINES = {
    "N-1": [_step("00", "03", "auto"), _step("03", "04.500000", "auto"),  # two steps by simulated staff: 3 + 1.5 s
            _step("05", "05", "auto")],  # and one the system does at once
    "N-2": [_step("00", None, "850701300007")],  # done by a person at the desk: no scheduled wait
}


def _mio(request: httpx.Request) -> httpx.Response:
    number = request.url.path.rsplit("/", 1)[-1]
    if number not in TIMELINES:
        return httpx.Response(404, json={"code": "APPLICATION_NOT_FOUND"})
    example = ApplicationOut.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    body = ApplicationOut.model_validate(example | {"number": number, "timeline": TIMELINES[number]})
    return httpx.Response(200, json=body.model_dump(by_alias=True))


@asynccontextmanager
async def _clients(_service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_mio), base_url="http://mio") as client:
        yield client


def _applicant(number: str | None, took_s: float | None) -> Applicant:
    lane = Lane(regulation="r", district="d", service="s", channel="portal", card=None)
    person = cast(Person, None)  # not read by the split
    final = {"applicationNumber": number} if number else None
    return Applicant(lane=lane, person=person, submitted_at=100.0 if took_s is not None else None, final=final,
                     finished_at=100.0 + took_s if took_s is not None else None)


async def test_the_staff_wait_and_the_mesh_own_time_add_up_to_submit_to_final():
    applicants = [_applicant("N-1", 5.0), _applicant("N-2", 0.7), _applicant("N-3", 2.0), _applicant(None, None)]
    split = await _split(_clients, applicants)
    assert split["split_of"] == 2, "N-3 cannot be read, the last never finished"
    assert (split["p50_staff_wait_s"], split["max_staff_wait_s"]) == (0.0, 4.5)
    assert (split["p50_mesh_own_s"], split["max_mesh_own_s"]) == (0.5, 0.7)
