"""Almaty's registration as unemployed tells its result by SMS (seed 004 п. 5: «извещает услугополучателя … о дате
регистрации в качестве безработного либо уведомляет об отказе»), through the mesh's outbox, with the issue."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from shared.pki.signing import SignerIdentity, sign_json
from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import bearer

UNEMPLOYED = "employment.unemployed-registration"


async def _enter(mesh: InProcessMesh, form: dict[str, Any]) -> str:
    async with mesh.client("mio_workstation") as mio:
        staff = next(s for s in (await mio.get("/admin/staff")).json()["staff"]
                     if s["district"] == "almaty" and s["role"] == "centre_specialist")
        login = (await mio.post("/staff/login", json={"iin": staff["iin"], "password": staff["password"]})).json()
        signer = SignerIdentity.from_pkcs12(data=base64.b64decode(staff["signingP12Base64"]),
                                            password=staff["pkcs12Password"])
        entered = await mio.post("/districts/almaty/applications", headers=bearer(login["token"]), json={
            "form": form, "formSignature": sign_json(value=form, signer=signer), "signedBy": "employee"})
    assert entered.status_code == 201, entered.text
    return entered.json()["number"]


async def _sms(mesh: InProcessMesh, number: str) -> list[dict[str, Any]]:
    for _ in range(150):
        async with mesh.client("portal") as portal:
            found = (await portal.get("/admin/mail", params={"applicationNumber": number, "kind": "sms"})).json()
        if found["mail"]:
            return found["mail"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no SMS for {number}")


async def test_the_registration_as_unemployed_is_told_by_sms_with_its_date(inproc: InProcessMesh):
    await inproc.set_mode("almaty", share=0.00001)
    person = await inproc.person(district="almaty", jobless=True)
    async with inproc.client("mio_workstation") as mio:
        (await mio.post("/admin/districts/almaty/register/cards", json={"iin": person.iin, "kind": "job_seeker"})
         ).raise_for_status()
    number = await _enter(inproc, person.request(UNEMPLOYED, phone="+77015550101")["form"])
    [sms] = await _sms(inproc, number)
    assert (sms["to"], sms["sender"], sms["kind"]) == ("+77015550101", "mio.almaty", "sms")
    assert "зарегистрированы в качестве безработного с 20" in sms["text"], sms["text"]


async def test_a_refusal_is_told_by_sms_too(inproc: InProcessMesh):
    await inproc.set_mode("almaty", share=0.00001)
    person = await inproc.person(district="almaty", jobless=True)  # no card on «Еңбек нарығы»: refused
    number = await _enter(inproc, person.request(UNEMPLOYED, phone="+77015550102")["form"])
    [sms] = await _sms(inproc, number)
    assert sms["to"] == "+77015550102"
    assert "отказано" in sms["text"], sms["text"]
