"""ЦОН visits end to end — real processes, real RabbitMQ, the kit as a tester drives it (meshkit.sdk): a ticket, an
operator's login, intake with the ГБД ФЛ look-up, the operator's EDS (verified by ``openssl cms -verify``), the
statuses in ИС ЦОН in order, the result handed out (in person, by e-mail read back from the outbox), every ЦОН-side
step within its seed maximum; representatives; ГБД ФЛ without data and stopped; the МИО office's e-mail hand-out;
and the bad inputs, each with its code. The same desk in process, in more detail: tests/usecases/test_centre.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from meshkit import cli
from meshkit.sdk import Citizen, KitError, Mesh
from shared.ids import make_iin
from shared.pki.canonical import canonical_bytes
from shared.pki.signing import SignerIdentity, sign_json
from tests.support.mesh import MeshHandle
from tests.support.mio import until
from tests.support.openssl import cms_verify, signer_subject

pytestmark = pytest.mark.e2e
CERTIFICATE = "employment.unemployed-certificate"
JOB_SEEKER = "employment.job-seeker-registration"
PERIOD = {"periodFrom": "2026-01-01", "periodTo": "2026-06-30"}
SHARE = 0.00001


@pytest.fixture(scope="module")
def kit(mesh: MeshHandle) -> Iterator[Mesh]:
    with mesh.kit() as kit:
        for district in ("mamlyut", "almaty"):
            kit.set_mode(district, "auto", auto_share=SHARE)
        yield kit


def _code(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(KitError) as refused:
        call()
    return refused.value.status, refused.value.code


def _openssl_verifies(mesh: MeshHandle, workdir: Path, *, content: bytes, signature_b64: str) -> str:
    done = cms_verify(mesh.nuc, workdir, content=content, signature_b64=signature_b64)
    assert done.returncode == 0, done.stderr
    return signer_subject(workdir)


def _on_time(visit: dict[str, Any]) -> None:
    """Every ЦОН-side step of the regulation ran, within its seed maximum."""
    assert visit["timeline"], visit
    for step in visit["timeline"]:
        assert (bool(step["startedAt"]), bool(step["finishedAt"]), step["overdue"]) == (True, True, False), step


def _statuses_in_order(visit: dict[str, Any]) -> list[str]:
    return [s["status"] for s in visit["statuses"]]


def test_a_certificate_through_a_mamlyut_visit_handed_out_in_person(kit: Mesh, mesh: MeshHandle, tmp_path: Path):
    citizen = kit.new_citizen(district="mamlyut", min_age=25, max_age=50, jobless=True, register=False)
    kit.open_card("mamlyut", citizen.iin, kind="unemployed")
    ticket = kit.take_ticket("mamlyut", CERTIFICATE)
    desk = kit.operator_desk("mamlyut")
    called = desk.call(ticket["id"])
    assert (called["code"][0], called["status"]) == ("A", "CALLED")
    visit = desk.intake(ticket["id"], citizen.iin, **PERIOD)
    assert (visit["form"]["surname"], visit["form"]["operatorIin"]) == (citizen.surname, desk.operator.iin)
    visit = desk.sign(visit)
    subject = _openssl_verifies(mesh, tmp_path, content=canonical_bytes(visit["form"]),
                                signature_b64=visit["formSignature"])
    assert f"serialNumber=IIN{desk.operator.iin}" in subject, subject
    assert "OU=BIN" in subject, subject
    visit = desk.wait(visit, "COMPLETED")
    assert _statuses_in_order(visit) == ["RECEIVED", "IN_PROGRESS", "COMPLETED"]
    assert visit["statuses"][0]["statusText"] == "Поступившие из ЦОН"
    handed = desk.hand_out(visit, ticket_id=ticket["id"], presented_iin=citizen.iin)
    assert (handed["state"], handed["delivery"]) == ("HANDED_OUT", "in_person")
    assert _code(lambda: desk.hand_out(visit, email="again@example.kz")) == (409, "RESULT_ALREADY_HANDED_OUT")
    closed = desk.close(ticket["id"])
    assert closed["status"] == "CLOSED"
    _on_time(handed)


def test_a_job_seeker_registration_through_an_almaty_visit_handed_out_by_email(kit: Mesh):
    citizen = kit.new_citizen(district="almaty", min_age=25, max_age=50, jobless=True, register=False)
    ticket = kit.take_ticket("almaty-almaly", JOB_SEEKER)
    desk = kit.operator_desk("almaty-almaly")
    desk.call(ticket["id"])
    visit = desk.intake(ticket["id"], citizen.iin, email=f"{citizen.iin}@example.kz")
    visit = desk.sign(visit, citizen)  # 004 п. 9 пп. 7: the citizen's EDS (or the operator's)
    visit = desk.wait(visit, "COMPLETED")
    assert _statuses_in_order(visit) == ["RECEIVED", "IN_PROGRESS", "COMPLETED"]
    assert _code(lambda: desk.hand_out(visit, by_email=True)) == (409, "RESULT_NOT_FORMED")
    formed = desk.form_result(visit)  # 004 п. 10: the State Corporation's worker forms the notice
    assert formed["result"]["content"]["title"] == "уведомление о регистрации в качестве лица, ищущего работу"
    # the notice is the State Corporation's, signed by this operator at the mesh's time: it verifies as such
    verified = kit.verify_document({k: formed["result"][k] for k in ("content", "signature")})
    assert (verified["valid"], verified["checks"]["issuer"], verified["checks"]["signer"]) == (True, "OK", "OK"), \
        verified["failures"]
    assert formed["result"]["content"]["signer"]["iin"] == desk.operator.iin
    handed = desk.hand_out(formed, by_email=True)
    desk.close(ticket["id"])
    [mail] = kit.wait_for_mail(application_number=visit["applicationNumber"])
    assert (mail["kind"], mail["to"], mail["sender"]) == ("email", f"{citizen.iin}@example.kz", "con")
    attached = kit.mail_message(mail["id"])["attachments"][0]
    assert json.loads(base64.b64decode(attached["contentBase64"]))["content"] == formed["result"]["content"]
    _on_time(handed)


def test_a_representative_needs_a_valid_power_of_attorney_for_this_citizen(kit: Mesh):
    citizen = kit.new_citizen(district="mamlyut", min_age=25, max_age=50, jobless=True, register=False)
    agent = kit.new_citizen(district="mamlyut", min_age=25, max_age=60, register=False)
    kit.open_card("mamlyut", citizen.iin, kind="unemployed")
    ticket = kit.take_ticket("mamlyut", CERTIFICATE)
    desk = kit.operator_desk("mamlyut", index=1)
    desk.call(ticket["id"])

    def by(principal: Citizen, until_: str) -> dict[str, Any]:
        return {"iin": agent.iin, "name": f"{agent.surname} {agent.name}", "powerOfAttorney": {
            "number": "02-1234", "issuedOn": "2025-01-15", "validUntil": until_, "principalIin": principal.iin,
            "attorneyIin": agent.iin, "services": [CERTIFICATE]}}

    expired = _code(lambda: desk.intake(ticket["id"], citizen.iin, representative=by(citizen, "2025-06-30"),
                                        **PERIOD))
    foreign = _code(lambda: desk.intake(ticket["id"], citizen.iin, representative=by(agent, "2099-12-31"),
                                        **PERIOD))
    assert (expired, foreign) == ((422, "POWER_OF_ATTORNEY_EXPIRED"), (422, "POWER_OF_ATTORNEY_FOREIGN"))
    visit = desk.intake(ticket["id"], citizen.iin, representative=by(citizen, "2099-12-31"), **PERIOD)
    visit = desk.wait(desk.sign(visit), "COMPLETED")
    assert (visit["form"]["representativeIin"], visit["form"]["applicantIin"]) == (agent.iin, citizen.iin)
    handed = desk.hand_out(visit, ticket_id=ticket["id"], presented_iin=agent.iin)
    assert handed["state"] == "HANDED_OUT"
    desk.close(ticket["id"])


def test_gbd_fl_without_data_stops_the_intake_and_a_stopped_gbd_fl_is_retried(kit: Mesh, mesh: MeshHandle):
    desk = kit.operator_desk("almaty-almaly", index=1)
    ticket = kit.take_ticket("almaty-almaly", JOB_SEEKER)
    desk.call(ticket["id"])
    unknown = next(i for i in (make_iin(birth_date=dt.date(1998, 2, d), sex="F", serial=9948) for d in range(1, 28))
                   if i)
    with pytest.raises(KitError) as no_data:
        desk.intake(ticket["id"], unknown)
    assert (no_data.value.status, no_data.value.code) == (422, "GBD_FL_NO_DATA")
    assert "отсутствуют в ГБД ФЛ" in no_data.value.message
    citizen = kit.new_citizen(district="almaty", min_age=25, max_age=50, register=False)
    mesh.runner["gbd_fl"].stop()
    try:
        with pytest.raises(KitError) as down:
            desk.intake(ticket["id"], citizen.iin)
        assert (down.value.status, down.value.code) == (503, "REGISTRY_UNAVAILABLE")
        assert "repeat the intake" in down.value.message
    finally:
        mesh.runner["gbd_fl"].start()
        mesh.runner.wait_ready(timeout_s=90, names=["gbd_fl"])
    visit = desk.intake(ticket["id"], citizen.iin)  # the retry, once it is back
    assert visit["form"]["applicantIin"] == citizen.iin
    visit = desk.wait(desk.sign(visit))
    assert visit["status"] in ("COMPLETED", "REFUSED")
    desk.close(ticket["id"])


def test_the_mio_office_hands_out_by_email_and_centre_hears_only_what_its_seed_routes(kit: Mesh):
    kit.set_mode("mamlyut", "manual")
    try:
        citizen = kit.new_citizen(district="mamlyut", min_age=25, max_age=50, jobless=True, register=False)
        kit.open_card("mamlyut", citizen.iin, kind="unemployed")
        employee = kit.staff_login(kit.staff("mamlyut", role="employee"))
        request = citizen.signed_request(CERTIFICATE, email=f"{citizen.iin}@example.kz", **PERIOD)
        number = employee.enter(request)["number"]
        employee.act(number, "accept")
        employee.act(number, "decide", decision="approve")
        employee.sign(number)
        issued = employee.act(number, "issue", delivery="email")
        assert (issued["status"], issued["delivery"]) == ("COMPLETED", "email")
    finally:
        kit.set_mode("mamlyut", "auto", auto_share=SHARE)
    [mail] = kit.wait_for_mail(application_number=number)
    assert (mail["to"], mail["sender"]) == (f"{citizen.iin}@example.kz", "mio.mamlyut")
    heard = until(lambda: kit.con_notices(number), lambda n: len(n) >= 3, what="ИС ЦОН's notices (seed 003)")
    assert [n["status"] for n in heard] == ["RECEIVED", "IN_PROGRESS", "COMPLETED"]

    # Almaty's registration as unemployed: interaction with the State Corporation «не предусмотрено» (004)
    almaty = kit.new_citizen(district="almaty", min_age=25, max_age=50, jobless=True, register=False)
    kit.open_card("almaty", almaty.iin, kind="job_seeker")
    centre = kit.staff_login(kit.staff("almaty", role="centre_specialist"))
    registered = centre.enter(almaty.signed_request("employment.unemployed-registration", phone="+77015550103"))[
        "number"]
    kit.settle(registered)
    assert kit.mio_application(registered)["status"] == "COMPLETED"
    assert kit.con_notices(registered) == []
    [sms] = kit.wait_for_mail(application_number=registered, kind="sms")  # 004 п. 5: the date, by SMS
    assert (sms["to"], sms["sender"]) == ("+77015550103", "mio.almaty")
    assert "зарегистрированы в качестве безработного с" in sms["text"]


def test_bad_input_at_the_centre_is_refused_with_its_code(kit: Mesh, mesh: MeshHandle):
    mamlyut, almaty = kit.operator_desk("mamlyut"), kit.operator_desk("almaty-almaly")
    assert _code(lambda: kit.take_ticket("zhezkazgan", CERTIFICATE)) == (422, "SERVICE_NOT_OFFERED_AT_CON")
    theirs = kit.take_ticket("almaty-almaly", JOB_SEEKER)
    assert _code(lambda: mamlyut.call(theirs["id"])) == (403, "NOT_YOUR_BRANCH")
    almaty.call(theirs["id"])
    assert _code(lambda: kit.operator_desk("almaty-almaly", index=1).call(theirs["id"])) == (
        409, "TICKET_ALREADY_CALLED")
    assert _code(lambda: almaty.intake(theirs["id"], "123456789012"))[0] == 422  # IIN_* naming the fault
    assert _code(lambda: almaty.intake(theirs["id"], "1" * 12, serviceId=CERTIFICATE)) == (
        422, "SERVICE_NOT_OFFERED_AT_CON")
    almaty.close(theirs["id"])

    operator = kit.operator("kokshetau")
    refused = [httpx.post(f"{kit.info.con}/operators/login", json={"iin": operator.iin, "password": "Wrong-pass-1!"})
               for _ in range(6)]
    assert [r.json()["code"] for r in refused] == ["PASSWORD_WRONG"] * 5 + ["ACCOUNT_LOCKED"]
    kit.http.post(f"{kit.info.con}/admin/operators/{operator.iin}/unlock", headers=kit._admin).raise_for_status()

    citizen = kit.new_citizen(district="mamlyut", min_age=25, max_age=50, jobless=True, register=False)
    ticket = kit.take_ticket("mamlyut", CERTIFICATE)
    mamlyut.call(ticket["id"])
    visit = mamlyut.intake(ticket["id"], citizen.iin, **PERIOD)
    colleague = kit.operator("mamlyut", index=1)
    signing = {
        "another operator's": (colleague.sign(visit["form"]), "operator", "EDS_IIN_MISMATCH"),
        "a citizen's authentication key": (citizen.sign(visit["form"], usage="auth"), "operator",
                                           "EDS_WRONG_KEY_USAGE"),
        "a citizen's signing key as the operator's": (citizen.sign(visit["form"]), "operator", "EDS_WRONG_HOLDER"),
        "the citizen's, where only the operator signs": (citizen.sign(visit["form"]), "applicant",
                                                         "SIGNER_NOT_ALLOWED"),
        "the operator's authentication key": (mamlyut.operator.sign(visit["form"], usage="auth"), "operator",
                                              "EDS_WRONG_KEY_USAGE"),
    }
    for what, (signature, signed_by, code) in signing.items():
        reply = kit.http.post(f"{kit.info.con}/visits/{visit['id']}/sign", headers=mamlyut.headers,
                              json={"signature": signature, "signedBy": signed_by})
        assert (reply.status_code, reply.json()["code"]) == (401 if code.startswith("EDS_") else 422, code), what
    con = next(m for m in kit.http.get(f"{kit.info.gateway}/members").json()["members"] if m["id"] == "con")
    expired = kit.http.post(f"{kit.info.nuc}/test/certificates", headers=kit._admin, json={
        "kind": "expired", "holder": "employee", "iin": mamlyut.operator.iin, "surname": "ОПЕРАТОР", "name": "ТЕСТ",
        "organisation": con["organisation"], "bin": con["bin"], "role": "operator", "pkcs12Password": "secret-123"})
    expired_signer = SignerIdentity.from_pkcs12(data=base64.b64decode(expired.json()["signing"]["pkcs12Base64"]),
                                                password="secret-123")
    reply = kit.http.post(f"{kit.info.con}/visits/{visit['id']}/sign", headers=mamlyut.headers, json={
        "signature": sign_json(value=visit["form"], signer=expired_signer), "signedBy": "operator"})
    assert (reply.status_code, reply.json()["code"]) == (401, "EDS_CERTIFICATE_EXPIRED")
    minted = kit.operator("mamlyut", new=True)
    kit.http.post(f"{kit.info.nuc}/certificates/{_serial(minted.signer().certificate)}/revoke", headers=kit._admin,
                  json={"reason": "keyCompromise"}).raise_for_status()
    revoked_desk = kit.operator_login(minted)
    other_ticket = kit.take_ticket("mamlyut", CERTIFICATE)
    revoked_desk.call(other_ticket["id"])
    other = revoked_desk.intake(other_ticket["id"], citizen.iin, **PERIOD)
    assert _code(lambda: revoked_desk.sign(other)) == (401, "EDS_CERTIFICATE_REVOKED")
    revoked_desk.close(other_ticket["id"])
    assert mamlyut.visit(visit)["state"] == "FILLED", "nothing was sent"
    assert _code(lambda: mamlyut.hand_out(visit, by_email=True)) == (409, "RESULT_NOT_READY")
    mamlyut.close(ticket["id"])


def _serial(certificate: Any) -> str:
    return format(certificate.serial_number, "x")



def test_meshctl_centre_visit_with_settle_skips_to_the_end_and_hands_out(kit: Mesh, mesh: MeshHandle,
                                                                         tmp_path: Path):
    """`meshctl centre visit --settle` for mamlyut's certificate with ИС МИО's simulated staff taking half of each
    step's maximum: the mesh clock skips working days of the decision, past the operator's 8-hour login (before:
    SESSION_EXPIRED after the skip); the desk logs in again, as its operator would on the day, and the visit ends
    handed out."""
    mesh_file = mesh.write_mesh_file(tmp_path / "mesh.json")
    runner = CliRunner()
    made = runner.invoke(cli.app, ["new", "citizen", "--district", "mamlyut", "--age", "30", "--unemployed", "--out",
                                   str(tmp_path / "citizen"), "--mesh", str(mesh_file)])
    assert made.exit_code == 0, made.output
    kit.open_card("mamlyut", json.loads(made.stdout)["iin"], kind="unemployed")
    kit.set_mode("mamlyut", "auto", auto_share=0.5)
    try:
        ran = runner.invoke(cli.app, ["centre", "visit", "--branch", "mamlyut", "--citizen", str(tmp_path / "citizen"),
                                      "--service", CERTIFICATE, "--field", "periodFrom=2026-01-01", "--field",
                                      "periodTo=2026-06-30", "--settle", "--timeout", "120s", "--mesh", str(mesh_file)])
    finally:
        kit.set_mode("mamlyut", "auto", auto_share=SHARE)
    assert ran.exit_code == 0, ran.output
    visit = json.loads(ran.stdout)
    assert (visit["status"], visit["state"], visit["delivery"]) == ("COMPLETED", "HANDED_OUT", "in_person"), visit
