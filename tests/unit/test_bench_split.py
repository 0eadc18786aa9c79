"""`make bench`'s steady run splits submit → final into the simulated staff's scheduled wait and the mesh's own
time: read off ИС МИО's timeline (served here by a fake ИС МИО over httpx's in-memory transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import httpx

from bench.steady import _split
from meshkit.load import Applicant, Lane, Person

STEPS = {
    "N-1": [  # two steps by simulated staff (3 s and 1.5 s after they started), one automatic (no wait)
        {"startedAt": "2026-12-04T10:00:00+00:00", "autoAt": "2026-12-04T10:00:03+00:00", "actor": "auto"},
        {"startedAt": "2026-12-04T10:00:03+00:00", "autoAt": "2026-12-04T10:00:04.500000+00:00", "actor": "auto"},
        {"startedAt": "2026-12-04T10:00:05+00:00", "autoAt": "2026-12-04T10:00:05+00:00", "actor": "auto"},
    ],
    "N-2": [  # done by a person at the desk: no scheduled wait
        {"startedAt": "2026-12-04T10:00:00+00:00", "autoAt": None, "actor": "850701300007"},
    ],
}


def _mio(request: httpx.Request) -> httpx.Response:
    number = request.url.path.rsplit("/", 1)[-1]
    if number not in STEPS:
        return httpx.Response(404, json={"code": "APPLICATION_NOT_FOUND"})
    return httpx.Response(200, json={"number": number, "steps": STEPS[number]})


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
