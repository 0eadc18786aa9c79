"""Issue 17, items 6 and 8: a signed result names the person as ГБД ФЛ holds them at the decision, never as the form
does; and the staff roles as the regulations give them — a head assigns an executor of the application's own
district, only the executor assigned decides, and a card on «Еңбек нарығы» is closed only by the role the district's
regulation files name as its keeper. Each refusal has its code and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx

from meshkit.load import Person
from meshkit.sdk import application_form, attachments_for
from services.mio_workstation.domain import IDENTITY_NOT_CONFIRMED
from shared.pki.signing import sign_json
from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import bearer, final_case

JOB_SEEKER = "employment.job-seeker-registration"


def _full_name(person: Person) -> str:
    return " ".join(filter(None, (person.surname, person.name, person.patronymic)))


def _signed(person: Person, service: str, **names: Any) -> dict[str, Any]:
    """The person's own form and EDS, naming them as ``names`` say (surname, name, patronymic)."""
    form = application_form(service_id=service, iin=person.iin, **({"surname": person.surname, "name": person.name,
                                                                     "patronymic": person.patronymic} | names))
    return {"form": form, "formSignature": sign_json(value=form, signer=person.signing),
            "attachments": attachments_for(form)}


async def test_a_citizens_form_in_another_name_is_refused_and_the_result_is_in_gbd_fls_spelling(
        inproc: InProcessMesh):
    """Issue 17 item 6: a citizen's own form naming «Назарбаев Нурсултан Абишевич» is refused with its reason (the
    signed refusal names no one but by the IIN); the same person in capitals and with «ё» for «е» is the same
    person, and the notice carries their name as ГБД ФЛ spells it, not as the form does."""
    await inproc.set_mode("zhezkazgan", share=0.00001)
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    async with inproc.client("portal") as portal:
        async def send(request: dict[str, Any]) -> str:
            reply = await portal.post(f"/citizens/{person.iin}/applications", json=request, headers=bearer(token))
            assert reply.status_code == 202, reply.text
            return str(reply.json()["correlationId"])

        other = await send(_signed(person, JOB_SEEKER, surname="Назарбаев", name="Нурсултан", patronymic="Абишевич"))
        refused = await final_case(inproc, person, token, other, timeout_s=60)
        capitals = await send(_signed(person, JOB_SEEKER, surname=person.surname.upper().replace("Е", "Ё"),
                                      name=person.name.upper()))  # no patronymic given: the registry's is printed
        completed = await final_case(inproc, person, token, capitals, timeout_s=60)
        documents = [(await portal.get(f"/citizens/{person.iin}/applications/{c}/document", headers=bearer(token)))
                     .json()["content"] for c in (other, capitals)]
    assert (refused["status"], completed["status"]) == ("REFUSED", "COMPLETED"), (refused, completed)
    refusal, notice = documents
    assert (refusal["reason"], refusal["applicantIin"]) == (IDENTITY_NOT_CONFIRMED, person.iin), refusal
    assert "applicant" not in refusal, refusal
    assert "Назарбаев" not in str(refusal)
    assert (notice["applicant"], notice["applicantIin"]) == (_full_name(person), person.iin), notice


# ---- roles ------------------------------------------------------------------------------------------------------
async def _staff(mio: httpx.AsyncClient, district: str, role: str) -> dict[str, Any]:
    """The district's seeded staff member of the role, logged in (``token``)."""
    member = next(s for s in (await mio.get("/admin/staff")).json()["staff"]
                  if (s["district"], s["role"]) == (district, role))
    return await _login(mio, member)


async def _login(mio: httpx.AsyncClient, member: dict[str, Any]) -> dict[str, Any]:
    login = await mio.post("/staff/login", json={"iin": member["iin"], "password": member["password"]})
    assert login.status_code == 200, login.text
    return member | {"token": login.json()["token"]}


async def _act(mio: httpx.AsyncClient, who: dict[str, Any], number: str, action: str, **body: Any) -> httpx.Response:
    return await mio.post(f"/applications/{number}/actions/{action}", json=body, headers=bearer(who["token"]))


async def _accepted(inproc: InProcessMesh, mio: httpx.AsyncClient, district: str) -> str:
    """A paper job-seeker application entered and accepted by the district's clerk (manual mode): it waits for the
    head's assignment."""
    await inproc.set_mode(district, mode="manual")
    person = await inproc.person(district=district)
    clerk = await _staff(mio, district, "clerk")
    entered = await mio.post(f"/districts/{district}/applications", headers=bearer(clerk["token"]),
                             json=person.request(JOB_SEEKER) | {"signedBy": "applicant"})
    assert entered.status_code == 201, entered.text
    number = str(entered.json()["number"])
    assert (await _act(mio, clerk, number, "accept")).status_code == 200
    return number


def _state(application: dict[str, Any]) -> tuple[Any, ...]:
    timeline = application["timeline"]
    return (application["status"], application["executorIin"], application["decision"], len(timeline),
            timeline[-1]["done"])


async def test_a_head_assigns_only_an_executor_of_the_applications_own_district(inproc: InProcessMesh):
    """Issue 17 item 8: a Kyzylorda head naming Zhezkazgan's executor (or anyone who is not an executor of
    Kyzylorda) is refused and nothing is stored; Kyzylorda's own executor is assigned."""
    async with inproc.client("mio_workstation") as mio:
        number = await _accepted(inproc, mio, "kyzylorda")
        head = await _staff(mio, "kyzylorda", "head")
        theirs, clerk, ours = [next(s for s in (await mio.get("/admin/staff")).json()["staff"]
                                    if (s["district"], s["role"]) == key)
                               for key in (("zhezkazgan", "executor"), ("kyzylorda", "clerk"),
                                           ("kyzylorda", "executor"))]
        before = _state((await mio.get(f"/applications/{number}")).json())
        cross = await _act(mio, head, number, "assign", executorIin=theirs["iin"])
        not_one = await _act(mio, head, number, "assign", executorIin=clerk["iin"])
        assert _state((await mio.get(f"/applications/{number}")).json()) == before, "nothing stored"
        assigned = await _act(mio, head, number, "assign", executorIin=ours["iin"])
    assert (cross.status_code, cross.json()["code"]) == (422, "EXECUTOR_NOT_IN_DISTRICT"), cross.text
    assert (not_one.status_code, not_one.json()["code"]) == (422, "NOT_AN_EXECUTOR"), not_one.text
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["executorIin"] == ours["iin"]


async def test_only_the_executor_the_head_assigned_decides(inproc: InProcessMesh):
    """Issue 17 item 8 (seed 002 п. 6, пп. 3-4: the head «жауапты орындаушыны анықтайды», that executor prepares the
    result): with two executors in Kyzylorda, the one not assigned is refused and nothing changes; the assigned one
    decides."""
    async with inproc.client("mio_workstation") as mio:
        minted = await mio.post("/admin/districts/kyzylorda/staff", json={"role": "executor"})
        assert minted.status_code == 201, minted.text
        second = await _login(mio, minted.json())
        first = await _staff(mio, "kyzylorda", "executor")
        assert first["iin"] != second["iin"], "the seeded executor stays the district's first"
        number = await _accepted(inproc, mio, "kyzylorda")
        head = await _staff(mio, "kyzylorda", "head")
        assert (await _act(mio, head, number, "assign", executorIin=second["iin"])).status_code == 200
        before = _state((await mio.get(f"/applications/{number}")).json())
        other = await _act(mio, first, number, "decide", decision="approve")
        assert _state((await mio.get(f"/applications/{number}")).json()) == before, "nothing stored"
        decided = await _act(mio, second, number, "decide", decision="approve")
        unknown_role = await mio.post("/admin/districts/kyzylorda/staff", json={"role": "employee"})
    assert (other.status_code, other.json()["code"]) == (403, "NOT_THE_ASSIGNED_EXECUTOR"), other.text
    assert decided.status_code == 200, decided.text
    assert decided.json()["decision"] == "approve"
    assert (unknown_role.status_code, unknown_role.json()["code"]) == (422, "ROLE_NOT_IN_DISTRICT")


async def test_a_card_is_closed_only_by_the_role_the_regulations_name_as_the_registers_keeper(inproc: InProcessMesh):
    """Issue 17 item 8: Kyzylorda's regulations name the executor as the one who enters people on «Еңбек нарығы»
    (seed 002 п. 6, пп. 4): the clerk and the head are refused and the card stays open; the executor closes it.
    Mamlyut's files register nobody, so its staff close no card; another district's staff never do."""
    async with inproc.client("mio_workstation") as mio:
        cards = []
        for district in ("kyzylorda", "mamlyut"):
            person = await inproc.person(district=district)
            opened = await mio.post(f"/admin/districts/{district}/register/cards",
                                    json={"iin": person.iin, "kind": "job_seeker"})
            assert opened.status_code == 201, opened.text
            cards.append(opened.json())
        ours, theirs = cards
        refused = {}
        for district, role, card in (("kyzylorda", "clerk", ours), ("kyzylorda", "head", ours),
                                     ("mamlyut", "employee", theirs), ("zhezkazgan", "executor", ours)):
            who = await _staff(mio, district, role)
            reply = await mio.post(f"/register/cards/{card['id']}/close", json={"reason": "Трудоустроен"},
                                   headers=bearer(who["token"]))
            refused[(district, role)] = (reply.status_code, reply.json().get("code"), reply.json().get("details"))
        still = [(await mio.get(f"/districts/{c['district']}/register", params={"iin": c["iin"]})).json()["cards"]
                 for c in cards]
        executor = await _staff(mio, "kyzylorda", "executor")
        closed = await mio.post(f"/register/cards/{ours['id']}/close", json={"reason": "Трудоустроен"},
                                headers=bearer(executor["token"]))
    assert refused == {
        ("kyzylorda", "clerk"): (403, "NOT_THE_REGISTER_KEEPER", {"roles": ["executor"]}),
        ("kyzylorda", "head"): (403, "NOT_THE_REGISTER_KEEPER", {"roles": ["executor"]}),
        ("mamlyut", "employee"): (403, "NOT_THE_REGISTER_KEEPER", {"roles": []}),
        ("zhezkazgan", "executor"): (403, "NOT_YOUR_DISTRICT", None),
    }
    assert [(c["status"], [e["kind"] for e in c["history"]]) for [c] in still] == [("open", ["opened"])] * 2
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["closeReason"]) == ("closed", "Трудоустроен")
