"""What an anonymous caller can learn about who exists: nothing. Registration and login answer the same way
whether or not an IIN is in ГБД ФЛ or has an account; staff of one district learn nothing of another's case.

Before: registration said PERSON_NOT_FOUND or ACCOUNT_EXISTS, login ACCOUNT_NOT_FOUND, staff login
STAFF_NOT_FOUND, and a clerk acting on another district's application was told which action it waited for."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Literal

import httpx

from meshkit.sdk import strong_password
from shared.ids import make_iin
from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import apply


def _unknown_iin(sex: Literal["M", "F"] = "M") -> str:
    """A valid IIN ГБД ФЛ has never heard of: born in 1901 (nobody it holds, or the kit makes, is that old)."""
    return next(iin for serial in range(9990, 10000)
                if (iin := make_iin(birth_date=dt.date(1901, 2, 3), sex=sex, serial=serial)) is not None)


async def _number(inproc: InProcessMesh, correlation_id: str) -> str:
    for _ in range(200):
        rows = await inproc.sql("mio_workstation", "SELECT number FROM application WHERE correlation_id = ?",
                          correlation_id)
        if rows:
            return str(rows[0][0])
        await asyncio.sleep(0.05)
    raise AssertionError("ИС МИО never took the application")


async def _anonymous(inproc: InProcessMesh, name: str) -> httpx.AsyncClient:
    client = inproc.client(name)
    client.headers.pop("Authorization")
    return client


async def test_registration_answers_the_same_for_a_new_an_unknown_and_a_registered_iin(inproc: InProcessMesh):
    new, registered = await inproc.person(district="almaty"), await inproc.person(district="almaty")
    password = strong_password()
    async with inproc.client("portal") as admin:
        first = await admin.post("/auth/register", json={"iin": registered.iin, "password": password})
        assert first.status_code == 201, first.text
    async with await _anonymous(inproc, "portal") as portal:
        answers = [await portal.post("/auth/register", json={"iin": iin, "password": password})
                   for iin in (new.iin, _unknown_iin(), registered.iin)]
        assert len({(a.status_code, a.text) for a in answers}) == 1, [a.text for a in answers]
        assert answers[0].status_code == 202
        assert (await portal.post("/auth/login", json={"iin": new.iin, "password": password})).status_code == 200, \
            "the new IIN did get its account"


async def test_login_answers_an_unknown_iin_as_a_wrong_password_lock_out_included(inproc: InProcessMesh):
    person = await inproc.person(district="almaty")
    password = strong_password()
    async with inproc.client("portal") as admin:
        (await admin.post("/auth/register", json={"iin": person.iin, "password": password})).raise_for_status()
        precise = await admin.post("/auth/login", json={"iin": _unknown_iin(), "password": "Wrong-1-Pass!"})
        assert precise.json()["code"] == "ACCOUNT_NOT_FOUND", "test tooling (admin token) is told precisely"
    async with await _anonymous(inproc, "portal") as portal:
        known = [await portal.post("/auth/login", json={"iin": person.iin, "password": f"Wrong-{i}-Pass!"})
                 for i in range(6)]
        unknown = [await portal.post("/auth/login", json={"iin": _unknown_iin("F"), "password": f"Wrong-{i}-Pass!"})
                   for i in range(6)]

    def shape(reply: httpx.Response) -> tuple:
        body = reply.json()
        when = r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00"  # lock-out ends differ by the milliseconds between the calls
        return (reply.status_code, body["code"], body["details"].get("attemptsLeft"),
                re.sub(when, "<time>", body["message"]), sorted(body["details"]))

    assert [shape(r) for r in known] == [shape(r) for r in unknown]
    assert [shape(r)[:2] for r in unknown] == [(401, "PASSWORD_WRONG")] * 5 + [(423, "ACCOUNT_LOCKED")]


async def test_staff_login_does_not_tell_who_works_there(inproc: InProcessMesh):
    async with inproc.client("mio_workstation") as mio:
        staff = next(s for s in (await mio.get("/admin/staff")).json()["staff"] if s["district"] == "almaty")
    async with await _anonymous(inproc, "mio_workstation") as mio:
        known = await mio.post("/staff/login", json={"iin": staff["iin"], "password": "Wrong-1-Pass!"})
        unknown = await mio.post("/staff/login", json={"iin": _unknown_iin(), "password": "Wrong-1-Pass!"})
    assert (known.status_code, known.json()["code"], known.json()["details"]) == \
        (unknown.status_code, unknown.json()["code"], unknown.json()["details"]) == \
        (401, "PASSWORD_WRONG", {"attemptsLeft": 4})
    async with inproc.client("mio_workstation") as mio:
        (await mio.post(f"/admin/staff/{staff['iin']}/unlock")).raise_for_status()


async def test_staff_of_another_district_learn_nothing_of_a_case(inproc: InProcessMesh):
    await inproc.set_mode("kyzylorda", mode="manual")
    person = await inproc.person(district="kyzylorda")
    sent = await apply(inproc, person, await inproc.citizen_session(person))
    number = await _number(inproc, sent["correlationId"])
    async with inproc.client("mio_workstation") as mio:
        outsider = next(s for s in (await mio.get("/admin/staff")).json()["staff"]
                        if s["district"] == "zhezkazgan" and s["role"] == "clerk")
        login = (await mio.post("/staff/login", json={"iin": outsider["iin"], "password": outsider["password"]})).json()
        headers = {"Authorization": f"Bearer {login['token']}"}
        for action in ("accept", "sign", "issue"):  # the due one, one not due, one of another role
            reply = await mio.post(f"/applications/{number}/actions/{action}", json={}, headers=headers)
            assert (reply.status_code, reply.json()["code"]) == (403, "NOT_YOUR_DISTRICT"), (action, reply.text)
            assert "details" not in reply.json() or not reply.json()["details"], "no step, no role"
        steps = await inproc.sql("mio_workstation", "SELECT done FROM step_record WHERE application_number = ?", number)
    assert steps == [("[]",)], "nothing changed"
    await inproc.set_mode("kyzylorda", mode="auto")


def _age(birth_date: str) -> int:
    born, today = dt.date.fromisoformat(birth_date), dt.date.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


async def test_a_person_asked_for_by_one_age_bound_alone_is_made(inproc: InProcessMesh):
    """ГБД ФЛ answered 500 for minAge ≥ 65 without maxAge (the other bound defaulted to 60)."""
    async with inproc.client("gbd_fl") as gbd:
        for path in ("/admin/people", "/admin/people/claim"):
            old = await gbd.post(path, json={"minAge": 70})
            young = await gbd.post(path, json={"maxAge": 10})
            assert old.status_code in (200, 201), old.text
            assert young.status_code in (200, 201), young.text
            assert _age(old.json()["birthDate"]) >= 70
            assert _age(young.json()["birthDate"]) <= 10
        empty = await gbd.post("/admin/people", json={"minAge": 50, "maxAge": 40})
    assert (empty.status_code, empty.json()["code"]) == (422, "AGE_RANGE_EMPTY")
