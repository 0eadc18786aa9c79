"""The citizen's cabinet: «Уведомления» read and unread, and seed 003's quality survey once per finished
application (appendix 3: two questions, three answers each)."""

from __future__ import annotations

from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import apply, bearer, every_notice, final_case, until_status


async def test_notifications_are_unread_until_marked_and_the_survey_is_answered_once(inproc: InProcessMesh):
    await inproc.set_mode("zhezkazgan", mode="manual")
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    sent = await apply(inproc, person, token)
    received = await until_status(inproc, person, token, sent["correlationId"], "RECEIVED")
    async with inproc.client("portal") as portal:
        early = await portal.post(f"/citizens/{person.iin}/applications/{sent['correlationId']}/survey",
                                  json={"quality": 3, "information": 2}, headers=bearer(token))
    assert (early.status_code, early.json()["code"]) == (409, "SURVEY_NOT_YET"), early.text
    async with inproc.client("mio_workstation") as mio:
        (await mio.put(f"/admin/applications/{received['applicationNumber']}/mode",
                       json={"mode": "auto", "autoShare": 0.00001})).raise_for_status()
    await inproc.set_mode("zhezkazgan", share=0.00001)
    case = await final_case(inproc, person, token, sent["correlationId"])
    await every_notice(inproc, person, token, case["applicationNumber"], count=3)
    async with inproc.client("portal") as portal:
        unread = (await portal.get(f"/citizens/{person.iin}/notifications/unread", headers=bearer(token))).json()
        assert unread["unread"] == 3
        first = unread["notifications"][0]["id"]
        marked = (await portal.post(f"/citizens/{person.iin}/notifications/read", json={"ids": [first]},
                                    headers=bearer(token))).json()
        assert marked == {"marked": 1, "unread": 2}
        every = (await portal.get(f"/citizens/{person.iin}/notifications", headers=bearer(token))).json()
        assert [n["read"] for n in every["notifications"]] == [True, False, False]
        assert (await portal.post(f"/citizens/{person.iin}/notifications/read", headers=bearer(token))
                ).json() == {"marked": 2, "unread": 0}

        form = (await portal.get("/services/survey")).json()
        assert set(form["questions"]) == {"quality", "information"}
        assert [a["ru"] for a in form["answers"].values()] == ["не удовлетворен", "частично удовлетворен",
                                                              "удовлетворен"]
        url = f"/citizens/{person.iin}/applications/{sent['correlationId']}/survey"
        answered = await portal.post(url, json={"quality": 3, "information": 2}, headers=bearer(token))
        assert answered.status_code == 201, answered.text
        again = await portal.post(url, json={"quality": 1, "information": 1}, headers=bearer(token))
        assert (again.status_code, again.json()["code"]) == (409, "SURVEY_ALREADY_ANSWERED")
        out_of_range = await portal.post(url, json={"quality": 4, "information": 1}, headers=bearer(token))
        assert out_of_range.status_code == 422
        other = await inproc.person(district="zhezkazgan")
        other_token = await inproc.citizen_session(other)
        theirs = await portal.post(f"/citizens/{other.iin}/applications/{sent['correlationId']}/survey",
                                   json={"quality": 1, "information": 1}, headers=bearer(other_token))
        assert (theirs.status_code, theirs.json()["code"]) == (404, "APPLICATION_NOT_FOUND")
        counts = (await portal.get("/admin/surveys")).json()
    assert counts["counts"]["quality"]["3"] >= 1


async def test_the_history_lists_applications_made_at_the_centre_and_the_office_with_their_channel(
        inproc: InProcessMesh):
    """«История получения услуг» (003 п. 10: the status can be checked on the portal, as at МИО or ЦОН)."""
    await inproc.set_mode("mamlyut", share=0.00001)
    person = await inproc.person(district="mamlyut")
    token = await inproc.citizen_session(person)
    async with inproc.client("mio_workstation") as mio:
        (await mio.post("/admin/districts/mamlyut/register/cards", json={"iin": person.iin, "kind": "unemployed"})
         ).raise_for_status()
    request = person.request("employment.unemployed-certificate", periodFrom="2026-01-01", periodTo="2026-06-30")
    async with inproc.client("con_operator") as con:
        at_centre = (await con.post("/admin/applications", json={
            "form": request["form"], "attachments": request["attachments"], "signedBy": "operator",
            "district": "mamlyut"})).json()
    sent = await apply(inproc, person, token, "employment.unemployed-certificate", periodFrom="2026-01-01",
                       periodTo="2026-06-30")
    for correlation_id in (at_centre["correlationId"], sent["correlationId"]):
        await final_case(inproc, person, token, correlation_id)
    async with inproc.client("portal") as portal:
        history = (await portal.get(f"/citizens/{person.iin}/applications", headers=bearer(token))).json()
    channels = {c["correlationId"]: (c["channel"], c["status"]) for c in history["applications"]}
    assert channels == {at_centre["correlationId"]: ("con", "COMPLETED"),
                        sent["correlationId"]: ("portal", "COMPLETED")}
