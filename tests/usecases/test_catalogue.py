"""The service catalogue and the forms held to it at submission: every intake — the portal, ИС ЦОН, the МИО
office — refuses a form that does not fit its service with every field error named, and the portal refuses a
service its region does not offer through it at once, storing nothing.

Before: a certificate request without a period was accepted and refused only after the whole staff workflow;
a registration as unemployed through the portal ended `FAILED Client.AccessDenied` at the gateway."""

from __future__ import annotations

import base64
from typing import Any

from shared.pki.signing import SignerIdentity, sign_json
from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import bearer

CERTIFICATE = "employment.unemployed-certificate"


async def test_the_catalogue_gives_each_service_its_form_documents_and_channels(inproc: InProcessMesh):
    async with inproc.client("portal") as portal:
        reply = await portal.get("/services", headers={"Authorization": ""})  # public
    assert reply.status_code == 200
    services = {s["id"]: s for s in reply.json()["services"]}
    assert set(services) == {"employment.job-seeker-registration", "employment.unemployed-registration",
                             "employment.active-measures-referral", CERTIFICATE}
    certificate = services[CERTIFICATE]
    assert {"periodFrom", "periodTo"} <= set(certificate["form"]["required"])
    assert certificate["form"]["properties"]["periodFrom"]["x-label-kk"]
    assert certificate["title"]["kk"] == "Жұмыссыз азаматтарға анықтама беру"
    assert [d["id"] for d in certificate["requiredDocuments"] if d["required"]] == ["identity-document"]
    [north] = certificate["regions"]
    assert (north["region"], north["channels"]) == ("north-kazakhstan", ["con", "office", "portal"])
    unemployed = {r["region"]: r["channels"] for r in services["employment.unemployed-registration"]["regions"]}
    assert unemployed == {"almaty": ["office"], "kyzylorda": ["office"]}


async def _cases(mesh: InProcessMesh, iin: str, token: str) -> list[dict[str, Any]]:
    async with mesh.client("portal") as portal:
        return (await portal.get(f"/citizens/{iin}/applications", headers=bearer(token))).json()["applications"]


async def test_the_portal_refuses_a_form_that_breaks_its_schema_naming_every_field(inproc: InProcessMesh):
    person = await inproc.person(district="mamlyut")
    token = await inproc.citizen_session(person)
    refusals = {
        "no period": ({}, {"periodFrom", "periodTo"}),
        "a period backwards": ({"periodFrom": "2026-06-30", "periodTo": "2026-01-01"}, {"periodTo"}),
        "not a date": ({"periodFrom": "30.06.2026", "periodTo": "2026-07-01"}, {"periodFrom"}),
    }
    async with inproc.client("portal") as portal:
        for what, (fields, named) in refusals.items():
            reply = await portal.post(f"/citizens/{person.iin}/applications", headers=bearer(token),
                                      json=person.request(CERTIFICATE, **fields))
            assert (reply.status_code, reply.json()["code"]) == (422, "FORM_INVALID"), (what, reply.text)
            assert {e["field"] for e in reply.json()["details"]["errors"]} == named, (what, reply.json())
    assert await _cases(inproc, person.iin, token) == [], "nothing stored"


async def test_the_portal_refuses_a_service_its_region_does_not_offer_there_at_once(inproc: InProcessMesh):
    person = await inproc.person(district="almaty")
    token = await inproc.citizen_session(person)
    async with inproc.client("portal") as portal:
        reply = await portal.post(f"/citizens/{person.iin}/applications", headers=bearer(token),
                                  json=person.request("employment.unemployed-registration"))
    assert (reply.status_code, reply.json()["code"]) == (422, "CHANNEL_NOT_OFFERED"), reply.text
    assert reply.json()["details"] == {"district": "almaty", "channels": ["office"]}
    assert await _cases(inproc, person.iin, token) == [], "nothing sent"


async def test_the_centre_and_the_office_hold_forms_to_the_same_schema(inproc: InProcessMesh):
    person = await inproc.person(district="mamlyut")
    async with inproc.client("con_operator") as con:
        account = (await con.get("/admin/operators", params={"branch": "mamlyut"})).json()["operators"][0]
        token = (await con.post("/operators/login", json={"iin": account["iin"], "password": account["password"]})
                 ).json()["token"]
        taken = (await con.post("/branches/mamlyut/tickets", json={"serviceId": CERTIFICATE})).json()
        await con.post("/tickets/call", json={"ticketId": taken["id"]}, headers=bearer(token))
        intake = await con.post(f"/tickets/{taken['id']}/intake", json={"iin": person.iin}, headers=bearer(token))
        await con.post(f"/tickets/{taken['id']}/close", headers=bearer(token))
    assert (intake.status_code, intake.json()["code"]) == (422, "FORM_INVALID"), intake.text
    assert {e["field"] for e in intake.json()["details"]["errors"]} == {"periodFrom", "periodTo"}

    async with inproc.client("mio_workstation") as mio:
        staff = next(s for s in (await mio.get("/admin/staff")).json()["staff"] if s["district"] == "mamlyut")
        login = (await mio.post("/staff/login", json={"iin": staff["iin"], "password": staff["password"]})).json()
        signer = SignerIdentity.from_pkcs12(data=base64.b64decode(staff["signingP12Base64"]),
                                            password=staff["pkcs12Password"])
        form = person.request(CERTIFICATE)["form"]
        office = await mio.post("/districts/mamlyut/applications", headers=bearer(login["token"]), json={
            "form": form, "formSignature": sign_json(value=form, signer=signer), "signedBy": "employee"})
    assert (office.status_code, office.json()["code"]) == (422, "FORM_INVALID"), office.text
    assert {e["field"] for e in office.json()["details"]["errors"]} == {"periodFrom", "periodTo"}


async def test_a_referral_kind_the_regions_regulation_does_not_offer_is_refused_at_submission(inproc: InProcessMesh):
    """Seed 002 (Kyzylorda) offers four kinds; vocational training is Akmola's (seed 001), not Kyzylorda's."""
    async with inproc.client("portal") as portal:
        services = {s["id"]: s for s in (await portal.get("/services")).json()["services"]}
    kinds = {r["region"]: r["referralKinds"] for r in services["employment.active-measures-referral"]["regions"]}
    assert "vocational-training" in kinds["akmola"]
    assert "vocational-training" not in kinds["kyzylorda"]
    person = await inproc.person(district="kyzylorda")
    token = await inproc.citizen_session(person)
    async with inproc.client("portal") as portal:
        reply = await portal.post(f"/citizens/{person.iin}/applications", headers=bearer(token),
                                  json=person.request("employment.active-measures-referral",
                                                      referralKind="vocational-training"))
    assert (reply.status_code, reply.json()["code"]) == (422, "FORM_INVALID"), reply.text
    assert [e["field"] for e in reply.json()["details"]["errors"]] == ["referralKind"]
    assert await _cases(inproc, person.iin, token) == []
