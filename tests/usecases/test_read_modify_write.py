"""Every read-modify-write under concurrency: lock-out counters, numbering, staff actions, the log's retention.

The lock-out used to read the failure counter, check the password, and write the counter back: twenty
wrong passwords at once all answered "4 attempts left" and the account stayed open.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

from meshkit.sdk import strong_password
from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import apply, bearer, final_case


async def test_wrong_passwords_sent_at_once_lock_the_account_after_the_limit(inproc: InProcessMesh):
    person = await inproc.person(district="almaty")
    password = strong_password()
    async with inproc.client("portal") as portal:
        (await portal.post("/auth/register", json={"iin": person.iin, "password": password})).raise_for_status()
        replies = await asyncio.gather(*(portal.post("/auth/login", json={"iin": person.iin,
                                                                          "password": f"Wrong-{i}-Pass!"})
                                         for i in range(20)))
        right = await portal.post("/auth/login", json={"iin": person.iin, "password": password})
        account = (await portal.get(f"/admin/accounts/{person.iin}")).json()
    codes = Counter(r.json()["code"] for r in replies)
    assert codes["PASSWORD_WRONG"] <= 5, codes
    assert codes["PASSWORD_WRONG"] + codes["ACCOUNT_LOCKED"] == 20, codes
    assert account["lockedUntil"] is not None
    assert (right.status_code, right.json()["code"]) == (423, "ACCOUNT_LOCKED"), "locked means locked"


async def test_staff_lock_out_holds_under_concurrency_too(inproc: InProcessMesh):
    async with inproc.client("mio_workstation") as mio:
        staff = next(s for s in (await mio.get("/admin/staff")).json()["staff"]
                     if s["district"] == "kyzylorda" and s["role"] == "executor")
        replies = await asyncio.gather(*(mio.post("/staff/login", json={"iin": staff["iin"],
                                                                        "password": f"Wrong-{i}-Pass!"})
                                         for i in range(12)))
        right = await mio.post("/staff/login", json={"iin": staff["iin"], "password": staff["password"]})
    codes = Counter(r.json()["code"] for r in replies)
    assert codes["PASSWORD_WRONG"] <= 5
    assert right.json()["code"] == "ACCOUNT_LOCKED"


async def test_two_staff_doing_the_same_action_at_once_do_it_once(inproc: InProcessMesh):
    await inproc.set_mode("kyzylorda", mode="manual")
    person = await inproc.person(district="kyzylorda")
    token = await inproc.citizen_session(person)
    sent = await apply(inproc, person, token)
    async with inproc.client("mio_workstation") as mio:
        clerk = next(s for s in (await mio.get("/admin/staff")).json()["staff"]
                     if s["district"] == "kyzylorda" and s["role"] == "clerk")
        login = (await mio.post("/staff/login", json={"iin": clerk["iin"], "password": clerk["password"]})).json()
        number = None
        for _ in range(100):
            cases = await inproc.sql("mio_workstation", "SELECT number FROM application WHERE correlation_id = ?",
                               sent["correlationId"])
            if cases:
                number = cases[0][0]
                break
            await asyncio.sleep(0.05)
        assert number is not None
        accepts = await asyncio.gather(*(mio.post(f"/applications/{number}/actions/accept", json={},
                                                  headers=bearer(login["token"])) for _ in range(6)))
    assert sorted(r.status_code for r in accepts) == [200, 409, 409, 409, 409, 409]
    assert {r.json()["code"] for r in accepts if r.status_code == 409} == {"STEP_ALREADY_DONE"}
    steps = await inproc.sql("mio_workstation", "SELECT position, done FROM step_record WHERE application_number = ? "
                       "ORDER BY position", number)
    assert steps[0] == (0, '["accept"]'), steps
    assert len(steps) == 2, steps
    async with inproc.client("mio_workstation") as mio:
        (await mio.put(f"/admin/applications/{number}/mode", json={"mode": "auto", "autoShare": 0.00001})
         ).raise_for_status()
    assert (await final_case(inproc, person, token, sent["correlationId"]))["status"] == "COMPLETED"


async def test_the_log_is_purged_to_its_retention_and_the_rest_still_verifies(inproc: InProcessMesh):
    gateway = inproc.app("shep_gateway").state.gateway
    async with inproc.client("shep_gateway") as http:
        # what earlier tests left in flight lands first (no clock jump): a record logged between the two reads
        # below would move the anchor past what the first one counted
        quiet = await http.post("/admin/settle", json={"maxJumps": 0, "timeoutSeconds": 60})
        assert quiet.json()["outcome"] in ("settled", "max_jumps"), quiet.json()
        before = (await http.get("/log/verify")).json()
        assert before["ok"], before
        purged = await gateway.purge_log(older_than=dt.timedelta(seconds=0))
        assert purged > 0
        after = (await http.get("/log/verify")).json()
        assert after["ok"], after
        assert after["checked"] == 0
        assert after["anchor"]["seq"] == before["checked"] + (before["anchor"]["seq"] if before.get("anchor") else 0)
    await inproc.set_mode("zhezkazgan", share=0.00001)
    person = await inproc.person(district="zhezkazgan")  # the log goes on after the anchor
    token = await inproc.citizen_session(person)
    await final_case(inproc, person, token, (await apply(inproc, person, token))["correlationId"])
    async with inproc.client("shep_gateway") as http:
        later = (await http.get("/log/verify")).json()
        assert later["ok"], later
        assert later["checked"] > 0, later
        await inproc.sql("shep_gateway", "UPDATE message_log_anchor SET record_hash = ? WHERE id = "
                   "(SELECT max(id) FROM message_log_anchor)", "0" * 64)
        broken = (await http.get("/log/verify")).json()
    assert not broken["ok"]
    assert "signature" in broken["brokenAt"]["problem"]
