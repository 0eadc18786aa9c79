"""ИС МИО end to end, on its own broker and mesh (these tests move the mesh clock by weeks).

Every regulation file — plus one for a district the gateway has never heard of — runs a case in auto mode
with the timeline the file describes; three staff identities drive a case by hand to a head-signed document
that openssl verifies; working-day deadlines follow each counting rule across a weekend and a holiday;
status notifications reach the portal and ИС ЦОН in order, exactly once, across МИО crashes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from meshkit import cli
from meshkit.load import CARD_FOR, FORM_FIELDS
from meshkit.members import random_bin
from meshkit.sdk import Citizen, KitError, Mesh, Staff
from shared.employment.regulations import REGULATIONS_DIR
from shared.pki.canonical import canonical_bytes
from tests.support.mesh import MeshHandle, private_mesh
from tests.support.mio import (
    KZ,
    PortalView,
    counted_days,
    end_of,
    is_working,
    spans_weekend_and_holiday,
    submit,
    until,
    when,
    working_days_after,
)

pytestmark = pytest.mark.e2e
SHARE = 0.5
NEW_DISTRICT = "shymkent"
NEW_REGULATION = f"{NEW_DISTRICT}.job-seeker-registration.office"
SHIPPED = sorted(p.stem for p in REGULATIONS_DIR.glob("*.yaml"))
EXPECTED_STATUSES = ["RECEIVED", "IN_PROGRESS", "COMPLETED"]


def _new_region_file() -> dict:
    """A region added by adding a file: a copy of Zhezkazgan's office regulation for a new district."""
    data = yaml.safe_load((REGULATIONS_DIR / "zhezkazgan.job-seeker-registration.office.yaml").read_text())
    return data | {"id": NEW_REGULATION, "region": NEW_DISTRICT, "districts": [NEW_DISTRICT],
                   "organisations": {NEW_DISTRICT: {"name": "ГУ «Отдел занятости города Шымкента» (тест)",
                                                    "bin": random_bin()}}}


@pytest.fixture(scope="module")
def regulations_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("regulations")
    for path in REGULATIONS_DIR.glob("*.yaml"):
        shutil.copy(path, directory)
    (directory / f"{NEW_REGULATION}.yaml").write_text(yaml.safe_dump(_new_region_file(), allow_unicode=True))
    return directory


@pytest.fixture(scope="module")
def mio_mesh(tmp_path_factory: pytest.TempPathFactory, regulations_dir: Path):
    regulations = {"MIO_REGULATIONS_DIR": str(regulations_dir)}
    with private_mesh(tmp_path_factory, name="mio", extra_env=regulations) as handle:
        yield handle


@pytest.fixture(scope="module")
def kit(mio_mesh: MeshHandle):
    with mio_mesh.kit() as k:
        yield k


def _code(call) -> tuple[int, str]:
    with pytest.raises(KitError) as caught:
        call()
    return caught.value.status, caught.value.code


# ---- regulations as data ---------------------------------------------------------------------------------
def test_every_regulation_file_is_served_with_its_steps(kit: Mesh, regulations_dir: Path):
    served = {r["id"]: r for r in kit.http.get(f"{kit.info.mio}/regulations").json()["regulations"]}
    assert set(served) == {*SHIPPED, NEW_REGULATION}
    for regulation_id in served:
        file = yaml.safe_load((regulations_dir / f"{regulation_id}.yaml").read_text())
        detail = kit.http.get(f"{kit.info.mio}/regulations/{regulation_id}").json()
        assert [(s["id"], s["role"], s["does"], s["max"]) for s in detail["steps"]] == \
            [(s["id"], s["role"], s["does"], {"minutes": None, "workingDays": None, "counting": None} | s["max"])
             for s in file["steps"]], regulation_id
        assert all(s["source"] for s in detail["steps"]), "each step cites its clause"
    districts = {d["district"] for d in kit.http.get(f"{kit.info.mio}/districts").json()["districts"]}
    assert districts == {"zhezkazgan", "kokshetau", "stepnogorsk", "kyzylorda", "mamlyut", "almaty", NEW_DISTRICT}


def test_a_district_added_by_a_file_is_registered_at_the_gateway(kit: Mesh):
    members = {m["id"]: m for m in kit.http.get(f"{kit.info.gateway}/members").json()["members"]}
    assert members[f"mio.{NEW_DISTRICT}"]["district"] == NEW_DISTRICT
    assert members[f"mio.{NEW_DISTRICT}"]["certificates"], "its system certificate is pinned"
    services = {s["id"]: s for s in kit.http.get(f"{kit.info.gateway}/services").json()["services"]}
    assert f"mio.{NEW_DISTRICT}" in services["employment.job-seeker-registration"]["providers"]


@dataclass(frozen=True)
class Sent:
    """One application of the auto-mode round: its regulation file, number, and the citizen's portal view."""

    file: dict
    number: str
    portal: PortalView | None


def _send_one(kit: Mesh, file: dict) -> Sent:
    district = file["districts"][-1]
    citizen = kit.new_citizen(district=district if district != NEW_DISTRICT else None, min_age=25, max_age=50,
                              jobless=True)
    if file.get("requires"):
        kit.open_card(district, citizen.iin, kind=CARD_FOR[file["requires"]])
    number, portal = submit(kit, channel=file["channel"], district=district, citizen=citizen,
                            service=file["service"], first_role=file["steps"][0]["role"])
    return Sent(file=file, number=number, portal=portal)


@pytest.fixture(scope="module")
def skipped(kit: Mesh, regulations_dir: Path) -> dict[str, Sent]:
    """A fresh application under every regulation file, then ONE jump of the mesh clock by 10 working days —
    longer than any file's whole schedule, so simulated staff do every step inside the skipped interval."""
    files = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(regulations_dir.glob("*.yaml"))}
    for district in {f["districts"][-1] for f in files.values()}:
        kit.set_mode(district, "auto", auto_share=SHARE)
    sent = {regulation_id: _send_one(kit, file) for regulation_id, file in files.items()}
    for one in sent.values():  # ИС МИО has each (its first step scheduled) before the clock moves
        until(lambda n=one.number: kit.mio_application(n), lambda a: bool(a["timeline"]), what="the first step")
    kit.advance_clock(working_days=10)
    return sent


@pytest.mark.parametrize("regulation_id", [*SHIPPED, NEW_REGULATION])
def test_a_case_runs_through_each_regulation_in_auto_mode(kit: Mesh, skipped: dict[str, Sent], regulation_id: str):
    """Before: a jump of 4 working days finished one step, at the jump instant, overdue; the case stayed
    «Поступившие». Now one jump brings every case to its end, each step finished at its own scheduled time."""
    sent = skipped[regulation_id]
    file, number = sent.file, sent.number
    application = kit.wait_for_status(number, "COMPLETED", timeout_s=60)

    assert (application["regulation"], application["channel"]) == (regulation_id, file["channel"])
    timeline = application["timeline"]
    assert [(t["step"], t["role"]) for t in timeline] == [(s["id"], s["role"]) for s in file["steps"]]
    previous_end = when(application["receivedAt"])
    for record, step in zip(timeline, file["steps"], strict=True):
        started, due = when(record["startedAt"]), when(record["dueAt"])
        assert started == previous_end, f"{step['id']} starts when the previous step ends (mesh time)"
        if "minutes" in step["max"]:
            assert due - started == dt.timedelta(minutes=step["max"]["minutes"]), step["id"]
        else:
            days = counted_days(start=started.astimezone(KZ).date(), working_days=step["max"]["workingDays"],
                                rule=step["max"]["counting"])
            assert due == end_of(days[-1]), step["id"]
        auto = when(record["autoAt"])
        share = 0 if file.get("processing") == "automatic" else SHARE  # a register the ЦОН enters into: at once
        assert abs((auto - started) - (due - started) * share) < dt.timedelta(milliseconds=5), step["id"]
        assert record["finishedAt"] == record["autoAt"], \
            f"{step['id']}: done at its scheduled moment ({SHARE:.0%} of the step's maximum), not at the jump"
        assert (record["actor"], record["overdue"]) == ("auto", False), step["id"]
        previous_end = when(record["finishedAt"])
    assert application["completedAt"] == timeline[-1]["finishedAt"]
    assert application["document"]["signature"], "the result carries its EDS signature"

    deciding = next(t for t in timeline if "decide" in t["done"])
    expected = [("RECEIVED", application["receivedAt"]), ("IN_PROGRESS", deciding["startedAt"]),
                ("COMPLETED", application["completedAt"])]
    if file.get("notifyCentre") or file["channel"] == "con":
        until(lambda: kit.con_notices(number), lambda n: len(n) >= 3, what="ИС ЦОН's notices")
        time.sleep(0.5)  # a second copy of any notice would have come by now
        assert [(n["status"], n["at"]) for n in kit.con_notices(number)] == expected, \
            "ИС ЦОН hears each status once, in order, stamped when it happened"
    else:  # the seed routes nothing to ИС ЦОН (004's registration as unemployed: «не предусмотрено»)
        time.sleep(0.5)
        assert kit.con_notices(number) == [], "ИС ЦОН hears only what its seed routes to it"
    if sent.portal is not None:
        seen = until(sent.portal.notifications,
                     lambda n: len([x for x in n if x["applicationNumber"] == number]) >= 3,
                     what="the citizen's «Уведомления»")
        assert [(n["status"], n["at"]) for n in seen if n["applicationNumber"] == number] == expected


def test_in_manual_mode_the_jump_leaves_steps_overdue_and_counted(kit: Mesh, regulations_dir: Path):
    """Nobody acts in manual mode: after the jump the open step is overdue, the inbox counts it, and the step
    staff then finish by hand is recorded overdue; the next step starts then, on time."""
    files = [yaml.safe_load(p.read_text()) for p in sorted(regulations_dir.glob("kyzylorda.*.office.yaml"))]
    kit.set_mode("kyzylorda", "manual")
    sent = [_send_one(kit, file) for file in files]

    def inbox(**params: str) -> dict:
        return kit.http.get(f"{kit.info.mio}/districts/kyzylorda/applications", headers=kit._admin,
                            params=params).json()

    counted_before = sum(inbox()["overdueSteps"].values())
    kit.advance_clock(working_days=10)

    assert sum(inbox()["overdueSteps"].values()) == counted_before + len(sent), "each open step counted overdue"
    overdue = {a["number"] for a in inbox(status="OVERDUE")["applications"]}
    clerk = kit.staff_login(kit.staff("kyzylorda", role="clerk"))
    for one in sent:
        application = kit.mio_application(one.number)
        assert application["status"] == "RECEIVED"
        assert one.number in overdue
        [open_step] = [t for t in application["timeline"] if t["finishedAt"] is None]
        assert (open_step["position"], open_step["overdue"]) == (0, True)
        done = clerk.act(one.number, "accept")["timeline"]
        assert (done[0]["actor"], done[0]["overdue"]) == (clerk.staff.iin, True), "finished late: overdue"
        assert (done[1]["startedAt"], done[1]["overdue"]) == (done[0]["finishedAt"], False)


# ---- manual mode: three staff identities, the head's EDS --------------------------------------------------
def _openssl_verify(*, workdir: Path, kit: Mesh, content: bytes, signature_b64: str) -> subprocess.CompletedProcess:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is required (make test installs it)"
    (workdir / "document.json").write_bytes(content)
    (workdir / "document.p7s").write_bytes(base64.b64decode(signature_b64))
    (workdir / "nuc-chain.pem").write_text(httpx.get(f"{kit.info.nuc}/ca/chain.pem").text)
    return subprocess.run([openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", "document.p7s", "-content",
                           "document.json", "-CAfile", "nuc-chain.pem", "-purpose", "any", "-out", "/dev/null"],
                          cwd=workdir, capture_output=True, text=True, check=False)


def test_three_staff_drive_a_case_by_hand_to_a_head_signed_document(kit: Mesh, tmp_path: Path):
    kit.set_mode("zhezkazgan", "manual")
    citizen = kit.new_citizen(district="zhezkazgan", min_age=25, max_age=50, jobless=True)
    clerk, head, executor = (kit.staff_login(kit.staff("zhezkazgan", role=r)) for r in ("clerk", "head", "executor"))
    assert len({clerk.staff.iin, head.staff.iin, executor.staff.iin}) == 3
    number, portal = submit(kit, channel="portal", district="zhezkazgan", citizen=citizen,
                            service="employment.job-seeker-registration", first_role="clerk")
    assert portal is not None
    received = [a["number"] for a in clerk.inbox("RECEIVED")["applications"]]
    assert number in received

    clerk.act(number, "accept")
    head.act(number, "assign", executorIin=executor.staff.iin)
    assert number in [a["number"] for a in executor.inbox("IN_PROGRESS")["applications"]]
    decided = executor.act(number, "decide", decision="approve")
    assert decided["document"]["signature"] is None
    head.sign(number)
    done = clerk.act(number, "issue")

    assert done["status"] == "COMPLETED"
    assert [t["actor"] for t in done["timeline"]] == [clerk.staff.iin, head.staff.iin, executor.staff.iin,
                                                      head.staff.iin, clerk.staff.iin]
    assert (done["executorIin"], done["signerIin"]) == (executor.staff.iin, head.staff.iin)
    document = done["document"]
    assert document["content"]["applicantIin"] == citizen.iin
    good = _openssl_verify(workdir=tmp_path, kit=kit, content=canonical_bytes(document["content"]),
                           signature_b64=document["signature"])
    assert good.returncode == 0, good.stderr
    tampered = _openssl_verify(workdir=tmp_path, kit=kit, signature_b64=document["signature"],
                               content=canonical_bytes(document["content"] | {"result": "refused"}))
    assert tampered.returncode != 0
    card = head.register(citizen.iin)
    assert [(c["kind"], c["status"], [e["kind"] for e in c["history"]]) for c in card] == \
        [("job_seeker", "open", ["opened"])]
    delivered = until(portal.notifications, lambda n: any(x["status"] == "COMPLETED" for x in n),
                      what="the completion notice at the portal")
    completion = next(n for n in delivered if n["status"] == "COMPLETED")
    assert completion["document"]["signature"] == document["signature"]


def test_wrong_actors_and_signatures_are_refused_and_change_nothing(kit: Mesh):
    kit.set_mode("zhezkazgan", "manual")
    citizen = kit.new_citizen(district="zhezkazgan", min_age=25, max_age=50)
    clerk, head, executor = (kit.staff_login(kit.staff("zhezkazgan", role=r)) for r in ("clerk", "head", "executor"))
    number = clerk.enter(citizen.signed_request("employment.job-seeker-registration"))["number"]

    def unchanged(action) -> tuple[int, str]:
        before = kit.mio_application(number)
        outcome = _code(action)
        assert kit.mio_application(number) == before, "a refused action changes nothing"
        return outcome

    assert unchanged(lambda: executor.act(number, "accept")) == (403, "WRONG_ROLE")
    assert unchanged(lambda: clerk.act(number, "decide", decision="approve")) == (409, "ACTION_NOT_DUE")
    clerk.act(number, "accept")
    assert unchanged(lambda: clerk.act(number, "accept")) == (409, "STEP_ALREADY_DONE")
    head.act(number, "assign")
    assert unchanged(lambda: executor.act(number, "decide", decision="refuse")) == (422, "REASON_REQUIRED")
    executor.act(number, "decide", decision="approve")
    assert unchanged(lambda: executor.sign(number)) == (403, "WRONG_ROLE")
    # the head, logged in, sends a signature made with the executor's certificate
    assert unchanged(lambda: head.sign(number, signer=executor.staff)) == (401, "EDS_IIN_MISMATCH")
    # ... and with a certificate of the head's own IIN that НУЦ issued without the head role
    plain = kit.http.post(f"{kit.info.nuc}/certificates/employee", headers=kit._admin, json={
        "iin": head.staff.iin, "surname": "Тестов", "name": "Тест", "bin": _bin_of(kit, "zhezkazgan"),
        "organisation": "ГУ «Отдел занятости и социальных программ города Жезказгана» (симулятор)",
        "role": "employee", "pkcs12Password": "plain-employee-1"}).json()
    impostor = Staff(iin=head.staff.iin, district="zhezkazgan", role="head", password="",
                     pkcs12_password="plain-employee-1",
                     signing_p12=base64.b64decode(plain["signing"]["pkcs12Base64"]),
                     auth_p12=base64.b64decode(plain["authentication"]["pkcs12Base64"]))
    assert unchanged(lambda: head.sign(number, signer=impostor)) == (401, "EDS_ROLE_MISSING")
    assert unchanged(lambda: head.act(number, "sign")) == (422, "SIGNATURE_REQUIRED")
    head.sign(number)
    assert _code(lambda: kit.staff_login(kit.staff("kyzylorda", role="head")).application(number)) == \
        (403, "NOT_YOUR_DISTRICT")
    assert _code(lambda: clerk.application("ZHZ-2026-999999")) == (404, "APPLICATION_NOT_FOUND")
    assert _code(lambda: kit.mio_application("nothing")) == (404, "APPLICATION_NOT_FOUND")
    reply = kit.http.get(f"{kit.info.mio}/districts/atlantis/applications", headers=kit._admin)
    assert (reply.status_code, reply.json()["code"]) == (422, "DISTRICT_UNKNOWN")


def _bin_of(kit: Mesh, district: str) -> str:
    members = kit.http.get(f"{kit.info.gateway}/members").json()["members"]
    return next(m["bin"] for m in members if m["id"] == f"mio.{district}")


def test_approval_needs_the_card_the_regulation_requires(kit: Mesh):
    kit.set_mode("kyzylorda", "manual")
    citizen = kit.new_citizen(district="kyzylorda", min_age=25, max_age=50, jobless=True)
    clerk, head, executor = (kit.staff_login(kit.staff("kyzylorda", role=r)) for r in ("clerk", "head", "executor"))
    number = clerk.enter(citizen.signed_request("employment.unemployed-registration"))["number"]
    clerk.act(number, "accept")
    head.act(number, "assign")
    assert _code(lambda: executor.act(number, "decide", decision="approve")) == (409, "CARD_REQUIRED")
    refused = executor.act(number, "decide", decision="refuse", reason="Нет карточки в «Еңбек нарығы»")
    assert refused["document"]["content"]["result"] == "refused"


def test_the_clerk_may_refuse_acceptance_where_the_regulation_allows(kit: Mesh, regulations_dir: Path):
    allowing = [yaml.safe_load(p.read_text()) for p in regulations_dir.glob("*.office.yaml")]
    allowing = [r for r in allowing if r.get("mayRefuseAcceptance")]
    assert allowing, "seed 002: the clerk refuses acceptance when documents are incomplete"
    regulation = allowing[0]
    district, role = regulation["districts"][0], regulation["steps"][0]["role"]
    kit.set_mode(district, "manual")
    citizen = kit.new_citizen(district=district, min_age=25, max_age=50)
    clerk = kit.staff_login(kit.staff(district, role=role))
    number = clerk.enter(citizen.signed_request(regulation["service"], **FORM_FIELDS[regulation["service"]]))["number"]
    assert _code(lambda: clerk.act(number, "accept", accept=False)) == (422, "REASON_REQUIRED")
    refused = clerk.act(number, "accept", accept=False, reason="Представлен неполный пакет документов")
    assert (refused["status"], refused["reason"]) == ("NOT_ACCEPTED", "Представлен неполный пакет документов")
    assert kit.mio_application(number)["status"] == "NOT_ACCEPTED"
    assert kit.con_notices(number) == [], "seed 002 routes nothing to ИС ЦОН"


# ---- the register -------------------------------------------------------------------------------------------
def test_the_register_keeps_each_card_with_its_history(kit: Mesh):
    district = "kyzylorda"
    kit.set_mode(district, "auto", auto_share=SHARE)
    citizen = kit.new_citizen(district=district, min_age=25, max_age=50, jobless=True)
    for service, channel in (("employment.job-seeker-registration", "portal"),
                             ("employment.unemployed-registration", "office"),
                             ("employment.active-measures-referral", "portal")):
        number, _ = submit(kit, channel=channel, district=district, citizen=citizen, service=service,
                           first_role="clerk")
        assert kit.settle(number)["applications"][0]["status"] == "COMPLETED", service
    clerk = kit.staff_login(kit.staff(district, role="clerk"))
    [card] = clerk.register(citizen.iin)
    assert (card["kind"], card["status"], card["unemployedSince"] is not None) == ("unemployed", "open", True)
    assert [e["kind"] for e in card["history"]] == ["opened", "became_unemployed", "measure"]
    measure = card["history"][-1]["detail"]
    assert (measure["referralKind"], measure["district"]) == ("public-works", district), measure
    assert measure["documentNumber"].startswith("KZO-D-"), measure
    # the executor enters people on «Еңбек нарығы» in Kyzylorda (002 п. 6, пп. 4: registerKeeper), so closes cards
    not_theirs = kit.http.post(f"{kit.info.mio}/register/cards/{card['id']}/close", headers=clerk.headers,
                               json={"reason": "Трудоустроен"})
    assert (not_theirs.status_code, not_theirs.json()["code"]) == (403, "NOT_THE_REGISTER_KEEPER")
    executor = kit.staff_login(kit.staff(district, role="executor"))
    closed = kit.http.post(f"{kit.info.mio}/register/cards/{card['id']}/close", headers=executor.headers,
                           json={"reason": "Трудоустроен"})
    assert closed.json()["status"] == "closed"
    again = kit.http.post(f"{kit.info.mio}/register/cards/{card['id']}/close", headers=executor.headers,
                          json={"reason": "Трудоустроен"})
    assert (again.status_code, again.json()["code"]) == (409, "CARD_CLOSED")
    [after] = clerk.register(citizen.iin)
    assert [e["kind"] for e in after["history"]] == ["opened", "became_unemployed", "measure", "closed"]


# ---- crashes: notifications in order, exactly once -----------------------------------------------------------
def _restart_mio(mesh: MeshHandle) -> None:
    mio = mesh.runner["mio_workstation"]
    mio.kill()  # SIGKILL: no shutdown, whatever was in flight stays where it was
    mio.start()
    mesh.runner.wait_ready(timeout_s=90, names=["mio_workstation"])


def test_status_notices_survive_mio_crashes_in_order_exactly_once(kit: Mesh, mio_mesh: MeshHandle):
    kit.set_mode("zhezkazgan", "manual")
    citizen = kit.new_citizen(district="zhezkazgan", min_age=25, max_age=50, jobless=True)
    number, portal = submit(kit, channel="portal", district="zhezkazgan", citizen=citizen,
                            service="employment.job-seeker-registration", first_role="clerk")
    assert portal is not None
    clerk, head, executor = (kit.staff_login(kit.staff("zhezkazgan", role=r)) for r in ("clerk", "head", "executor"))
    clerk.act(number, "accept")
    head.act(number, "assign")  # «В работе» is queued in this transaction ...
    _restart_mio(mio_mesh)  # ... and the process dies straight after it
    executor.act(number, "decide", decision="approve")
    head.sign(number)
    kit.http.put(f"{kit.info.mio}/admin/applications/{number}/mode", headers=kit._admin,
                 json={"mode": "auto", "autoShare": SHARE}).raise_for_status()
    assert kit.settle(number)["applications"][0]["status"] == "COMPLETED"  # simulated staff issue it
    _restart_mio(mio_mesh)

    def mine(notifications: list[dict]) -> list[str]:
        return [n["status"] for n in notifications if n["applicationNumber"] == number]

    at_portal = until(portal.notifications, lambda n: "COMPLETED" in mine(n), what="completion at the portal")
    time.sleep(1.5)  # anything published twice by a relay restarted mid-flight would have arrived by now
    assert mine(portal.notifications()) == mine(at_portal) == EXPECTED_STATUSES
    [case] = [c for c in portal.applications() if c["applicationNumber"] == number]
    assert case["status"] == "COMPLETED"


# ---- meshctl: the same flow from a shell --------------------------------------------------------------------
def test_meshctl_drives_a_referral_by_hand(kit: Mesh, mio_mesh: MeshHandle, tmp_path: Path):
    mesh_file = mio_mesh.write_mesh_file(tmp_path / "mesh.json")
    runner = CliRunner()

    def meshctl(*args: str) -> dict:
        result = runner.invoke(cli.app, [*args, "--mesh", str(mesh_file)])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    assert meshctl("mode", "kokshetau", "manual") == {"district": "kokshetau", "mode": "manual"}
    person = meshctl("new", "citizen", "--district", "kokshetau", "--out", str(tmp_path / "citizen"))
    kit.open_card("kokshetau", person["iin"], kind="job_seeker")
    applied = runner.invoke(cli.app, ["apply", "--citizen", str(tmp_path / "citizen"), "--service",
                                      "employment.active-measures-referral", "--field",
                                      "referralKind=vocational-training", "--mesh", str(mesh_file)])
    assert applied.exit_code == 0, applied.output
    sent = json.loads(applied.stdout)
    assert f"meshctl wait {sent['correlationId']} --status COMPLETED" in applied.stderr, "says how to follow it"
    portal = PortalView(kit=kit, citizen=Citizen.load(tmp_path / "citizen"))
    number = until(portal.applications, lambda a: a[-1]["correlationId"] == sent["correlationId"]
                   and a[-1]["applicationNumber"] is not None, what="the application number")[-1]["applicationNumber"]
    for action, role, extra in (("accept", "clerk", []), ("assign", "head", []),
                                ("decide", "executor", ["--decision", "approve"]), ("sign", "head", []),
                                ("issue", "clerk", [])):
        shown = meshctl("act", number, action, "--as", role, *extra)
    assert shown["status"] == "COMPLETED"
    assert [t["role"] for t in shown["timeline"]] == ["clerk", "head", "executor", "head", "clerk"]
    assert meshctl("wait", sent["correlationId"], "--status", "COMPLETED", "--timeout", "30s")["status"] == \
        "COMPLETED", "the portal heard it"
    assert meshctl("wait", number, "--status", "RECEIVED")["status"] == "COMPLETED", "a status passed counts"
    otherwise = runner.invoke(cli.app, ["wait", number, "--status", "REFUSED", "--mesh", str(mesh_file)])
    assert (otherwise.exit_code, json.loads(otherwise.stderr)["code"]) == (1, "CASE_ENDED_OTHERWISE")
    before = when(meshctl("clock")["now"])
    after = when(meshctl("clock", "--seconds", "3600")["now"])
    assert dt.timedelta(hours=1) <= after - before < dt.timedelta(hours=1, minutes=1)
    refused = runner.invoke(cli.app, ["act", number, "issue", "--as", "clerk", "--mesh", str(mesh_file)])
    assert refused.exit_code == 1
    assert json.loads(refused.stderr)["code"] == "APPLICATION_CLOSED"


# ---- the gateway's district lookup outlives a ГБД ФЛ outage --------------------------------------------------
def test_a_request_waits_out_a_gbdfl_outage_and_is_routed_when_it_returns(kit: Mesh, mio_mesh: MeshHandle):
    citizen = kit.new_citizen(district="almaty", min_age=25, max_age=50, jobless=True)

    def log(correlation_id: str) -> list[dict]:
        return kit.http.get(f"{kit.info.gateway}/log", params={"correlationId": correlation_id},
                            headers=kit._admin).json()["records"]

    gbdfl = mio_mesh.runner["gbd_fl"]
    gbdfl.stop()
    try:
        sent = kit.con_submit(citizen.signed_request("employment.job-seeker-registration"), signed_by="applicant")
        until(lambda: log(sent["correlationId"]), lambda r: any(x["outcome"] == "TIMEOUT" for x in r),
              what="the first lookup to time out", timeout_s=40)
    finally:
        gbdfl.start()
        mio_mesh.runner.wait_ready(timeout_s=90, names=["gbd_fl"])
    case = until(lambda: kit.con_cases(citizen.iin), lambda c: c[-1]["applicationNumber"] is not None,
                 what="the parked request to be routed", timeout_s=60)[-1]
    assert case["district"] == "almaty"
    assert case["status"] in ("RECEIVED", "IN_PROGRESS", "COMPLETED")
    records = log(sent["correlationId"])
    # the gateway's own look-ups (ИС МИО asks ГБД ФЛ too, once the case is routed)
    lookups = [r for r in records
               if r["serviceId"] == "gbdfl.person-by-iin" and "shep" in (r["sender"], r["recipient"])]
    assert [r["outcome"] for r in lookups[:2]] == ["ROUTED", "TIMEOUT"]
    assert (lookups[-1]["messageType"], lookups[-1]["sender"], lookups[-1]["recipient"]) == \
        ("RESPONSE", "gbdfl", "shep")
    requests = [r for r in records if r["serviceId"] == "employment.job-seeker-registration"
                and r["messageType"] == "REQUEST"]
    assert [(r["recipient"], r["outcome"]) for r in requests] == [("mio.almaty", "ROUTED")], "routed exactly once"


# ---- the working calendar ------------------------------------------------------------------------------------
def _acceptance_day(after: dt.date) -> dt.date:
    """A working day whose three-day term (counted from that day) spans a weekend and a public holiday."""
    day = after
    for _ in range(800):
        day += dt.timedelta(days=1)
        if is_working(day):
            window = counted_days(start=day, working_days=3, rule="include_acceptance")
            if spans_weekend_and_holiday(day, window[-1]):
                return day
    raise AssertionError("no such day in two years")


def test_working_day_deadlines_follow_each_counting_rule_across_a_weekend_and_a_holiday(kit: Mesh):
    for district in ("almaty", "mamlyut"):
        kit.set_mode(district, "manual")
    local = when(kit.clock()["localNow"])
    accepted = _acceptance_day(local.date() + dt.timedelta(days=1))
    target = dt.datetime.combine(accepted, dt.time(10, 0), tzinfo=KZ)
    kit.advance_clock(seconds=(target - local).total_seconds())

    # Almaty, registration as unemployed at the office: days counted from the day of acceptance
    almaty_person = kit.new_citizen(district="almaty", min_age=25, max_age=50, jobless=True)
    kit.open_card("almaty", almaty_person.iin, kind="job_seeker")
    centre = kit.staff_login(kit.staff("almaty", role="centre_specialist"))
    almaty = centre.enter(almaty_person.signed_request("employment.unemployed-registration"))["number"]
    centre.act(almaty, "accept")
    centre.act(almaty, "assign")
    # Mamlyut, certificate through ИС ЦОН: the day of acceptance and the day of issue are not counted
    mamlyut_person = kit.new_citizen(district="mamlyut", min_age=25, max_age=50, jobless=True)
    kit.open_card("mamlyut", mamlyut_person.iin, kind="unemployed")
    mamlyut, _ = submit(kit, channel="con", district="mamlyut", citizen=mamlyut_person,
                        service="employment.unemployed-certificate", first_role="employee")
    kit.staff_login(kit.staff("mamlyut", role="employee")).act(mamlyut, "accept")

    include = counted_days(start=accepted, working_days=3, rule="include_acceptance")
    exclude = counted_days(start=accepted, working_days=3, rule="exclude_acceptance_and_issue")
    assert spans_weekend_and_holiday(accepted, include[-1])
    assert spans_weekend_and_holiday(accepted, exclude[-1])
    a, m = kit.mio_application(almaty), kit.mio_application(mamlyut)
    assert when(a["termDue"]) == end_of(include[-1])
    assert when(m["termDue"]) == end_of(working_days_after(exclude[-1], 1)[0]), "issued the working day after"
    almaty_step_due = end_of(counted_days(start=accepted, working_days=2, rule="include_acceptance")[-1])
    mamlyut_step_due = end_of(exclude[-1])
    assert when(a["timeline"][2]["dueAt"]) == almaty_step_due
    assert when(m["timeline"][1]["dueAt"]) == mamlyut_step_due

    day = accepted
    while day <= mamlyut_step_due.date():
        day = working_days_after(day, 1)[0]
        kit.advance_clock(working_days=1)
        now = when(kit.clock()["localNow"])
        assert (now.date(), now.time().replace(microsecond=0) >= dt.time(10, 0)) == (day, True), \
            "one working day on: weekends and holidays are skipped"
        a, m = kit.mio_application(almaty), kit.mio_application(mamlyut)
        assert a["timeline"][2]["overdue"] is (now > almaty_step_due), day
        assert m["timeline"][1]["overdue"] is (now > mamlyut_step_due), day
    overdue = kit.http.get(f"{kit.info.mio}/districts/mamlyut/applications", params={"status": "OVERDUE"},
                           headers=kit._admin).json()
    assert mamlyut in [x["number"] for x in overdue["applications"]]
    assert overdue["overdueSteps"].get("decide", 0) >= 1
