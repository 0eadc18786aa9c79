"""ИС МИО rules, free of I/O: step deadlines on the mesh clock and the Kazakh calendar, when simulated staff
act, what a decision may be, what the result document says, and what the labour-market register records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.clock import KZ_TZ
from shared.employment.documents import document_title
from shared.employment.forms import SERVICE_TITLES
from shared.employment.regulations import Action, Duration, Regulation, Step, Term, document_kind_of
from shared.ids import folded_name
from shared.working_calendar import WorkingCalendar


class Status(StrEnum):
    """An application's status, as ИС МИО shows it and its notices tell it."""

    RECEIVED = "RECEIVED"  # «Поступившие»
    IN_PROGRESS = "IN_PROGRESS"  # «В работе», from the step that decides
    COMPLETED = "COMPLETED"  # «Исполнено»: the signed result
    REFUSED = "REFUSED"  # «Отказано»: the signed motivated refusal
    NOT_ACCEPTED = "NOT_ACCEPTED"  # «Отказано в приеме»: refused at intake

    @property
    def text(self) -> str:
        return STATUS_TEXT[self]

    @property
    def active(self) -> bool:
        return self in (Status.RECEIVED, Status.IN_PROGRESS)


STATUS_TEXT = {Status.RECEIVED: "Поступившие", Status.IN_PROGRESS: "В работе", Status.COMPLETED: "Исполнено",
               Status.REFUSED: "Отказано", Status.NOT_ACCEPTED: "Отказано в приеме"}
ACTIVE = (Status.RECEIVED, Status.IN_PROGRESS)
DISTRICT_PREFIX = {"zhezkazgan": "ZHZ", "kokshetau": "KOK", "stepnogorsk": "STP", "kyzylorda": "KZO",
                   "mamlyut": "MAM", "almaty": "ALA"}
MIN_AGE = 16  # Law "On employment of the population": job seekers from 16
REFERRAL_KIND_TEXT = {"employment": "для трудоустройства", "public-works": "на общественные работы",
                      "vocational-training": "на профессиональную подготовку, переподготовку и повышение квалификации",
                      "social-jobs": "для трудоустройства на социальные рабочие места",
                      "youth-practice": "на молодежную практику", "career-guidance": "на профессиональную ориентацию"}


def _end_of_day(day: dt.date) -> dt.datetime:
    """The last moment of a Kazakh calendar day, as an aware UTC time."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=KZ_TZ).astimezone(dt.UTC)


def step_due(*, started: dt.datetime, duration: Duration, calendar: WorkingCalendar) -> dt.datetime:
    """When a step becomes overdue: minutes of mesh time, or the end of the last working day its term counts
    (a step's days are the term's days; the issue day that the exclusive rule adds belongs to the issue step)."""
    if duration.minutes is not None:
        return started + dt.timedelta(minutes=duration.minutes)
    assert duration.working_days is not None
    assert duration.counting is not None
    accepted = started.astimezone(KZ_TZ).date()
    return _end_of_day(calendar.last_counted_day(accepted=accepted, working_days=duration.working_days,
                                                 rule=duration.counting))


def term_due(*, accepted: dt.datetime, term: Term | None, calendar: WorkingCalendar) -> dt.datetime | None:
    if term is None:
        return None
    day = calendar.term_due_date(accepted=accepted.astimezone(KZ_TZ).date(), working_days=term.working_days,
                                 rule=term.counting)
    return _end_of_day(day)


def auto_at(*, started: dt.datetime, due: dt.datetime, share: float) -> dt.datetime:
    """When simulated staff finish a step: ``share`` of the step's allowed time after it started."""
    return started + (due - started) * share


def application_number(*, district: str, year: int, sequence: int) -> str:
    return f"{DISTRICT_PREFIX.get(district, district[:3].upper())}-{year}-{sequence:06d}"


def next_action(step: Step, done: list[str]) -> Action | None:
    """The step's next undone action, or None when the step is finished."""
    for action in step.does:
        if action not in done:
            return action
    return None


def overdue(*, due: dt.datetime, finished: dt.datetime | None, auto: dt.datetime | None, now: dt.datetime) -> bool:
    """A step is overdue when it finished after its maximum, or is open past it and not about to be done in time.

    Simulated staff finish a step at its scheduled time (``auto``) even when the clock has jumped past it, so an
    open step they will finish before its maximum is not late; one whose schedule lies beyond its maximum
    (``autoShare`` > 1), or that waits for staff (manual mode, no schedule), is late once the maximum passes.
    """
    if finished is not None:
        return finished > due
    return now > due and (auto is None or auto > due)


# The form names the person otherwise than ГБД ФЛ holds them, or ГБД ФЛ holds nobody with that IIN: one reason for
# both, so that whoever applies for someone learns from a refusal only that the pair IIN-name was not right.
IDENTITY_NOT_CONFIRMED = ("Сведения о заявителе в заявлении (ИИН, фамилия, имя, отчество) не соответствуют сведениям "
                          "ГБД ФЛ")


@dataclass(frozen=True)
class Registered:
    """The person as ГБД ФЛ holds them when the decision is made: what a result prints of them. The seeds' result
    forms print the full name and the IIN (003 app. 5: «Ф.И.О.»; the notices and referrals the same); none prints a
    birth date or an address, so none is added."""

    iin: str
    surname: str
    name: str
    patronymic: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(filter(None, (self.surname, self.name, self.patronymic)))


def identity_problem(form: dict[str, Any], registered: Registered | None) -> str | None:
    """Does the form name the person ГБД ФЛ holds under its IIN? Surname and name must be theirs, the patronymic too
    when the form gives one (it is written «при наличии»: a form may leave it out, the result prints ГБД ФЛ's).
    ``IDENTITY_NOT_CONFIRMED`` when not, and when ГБД ФЛ has no data: the same reason for both."""
    if registered is None:
        return IDENTITY_NOT_CONFIRMED
    pairs: list[tuple[Any, str | None]] = [(form.get("surname"), registered.surname),
                                           (form.get("name"), registered.name)]
    if form.get("patronymic"):
        pairs.append((form["patronymic"], registered.patronymic))
    return None if all(folded_name(given) == folded_name(held) for given, held in pairs) else IDENTITY_NOT_CONFIRMED


@dataclass(frozen=True)
class Circumstances:
    """What the executor knows when deciding: the register, and the registries' facts."""

    age: int | None
    alive: bool
    employed: bool
    full_time_student: bool
    pensioner: bool
    job_seeker_card: bool
    unemployed_card: bool
    has_representative: bool
    document_problems: tuple[str, ...] = ()  # the provider's document check (condition 3): each a refusal reason
    # the person as ГБД ФЛ holds them now (None: no data), and whether the form names them so (``identity_problem``)
    registered: Registered | None = None
    identity: str | None = None

    @property
    def named(self) -> Registered | None:
        """Whom the result may name: ГБД ФЛ's person when the form named them rightly, else nobody — a refusal over
        the name prints the IIN alone, so it never tells an applicant ГБД ФЛ's name for an IIN they gave."""
        return self.registered if self.identity is None else None


def card_missing(*, regulation: Regulation, facts: Circumstances) -> str | None:
    """The labour-market precondition of a regulation, as a refusal reason when unmet."""
    if regulation.requires == "job_seeker_card" and not (facts.job_seeker_card or facts.unemployed_card):
        return "Отсутствует личная карточка лица, ищущего работу, в АИС «Еңбек нарығы»"
    if regulation.requires == "unemployed_card" and not facts.unemployed_card:
        return "Лицо не зарегистрировано в качестве безработного в АИС «Еңбек нарығы»"
    if regulation.requires == "any_card" and not (facts.job_seeker_card or facts.unemployed_card):
        return "Отсутствует личная карточка ищущего работу или безработного в АИС «Еңбек нарығы»"
    return None


Decision = tuple[bool, str | None]
REGISTRATIONS = ("employment.job-seeker-registration", "employment.unemployed-registration")


def _person_refusal(regulation: Regulation, facts: Circumstances) -> str | None:
    """Grounds of every service: the person named, alive, their documents in order, the card the service needs."""
    if facts.identity:  # the executor checks the documents (000 п. 5, пп. 3; condition 3): not the person named
        return facts.identity
    if not facts.alive:
        return "По данным ГБД ФЛ услугополучатель умер"
    if facts.document_problems:  # process 6 (000) / process 5 (004 п. 11): the refusal over the documents
        return "; ".join(facts.document_problems)
    return card_missing(regulation=regulation, facts=facts)


def _registration_refusal(service: str, facts: Circumstances) -> str | None:
    """Grounds of the two registrations: age (or a representative), already registered, employed, studying,
    drawing a pension."""
    if facts.age is not None and facts.age < MIN_AGE and not facts.has_representative:
        return "Лицо, не достигшее 16 лет, обращается через законного представителя"
    if service == "employment.job-seeker-registration":
        on_register = facts.job_seeker_card or facts.unemployed_card
        return "Лицо уже состоит на учете в АИС «Еңбек нарығы»" if on_register else None
    if facts.unemployed_card:
        return "Лицо уже зарегистрировано в качестве безработного"
    for flag, reason in ((facts.employed, "По данным ЕСУТД лицо состоит в трудовых отношениях"),
                         (facts.full_time_student, "Лицо обучается по очной форме обучения"),
                         (facts.pensioner, "Лицо является получателем пенсии")):
        if flag:
            return reason
    return None


# The grounds a scenario may force simulated staff to refuse on (``mio:refuse:<ground>``, shared.mesh.scenarios'
# MIO_GROUNDS), each worded as the Standard's own refusal above, so a forced refusal reads as a real one.
FORCED_GROUNDS: dict[str, str] = {
    "identity": IDENTITY_NOT_CONFIRMED,
    "deceased": "По данным ГБД ФЛ услугополучатель умер",
    "under-16": "Лицо, не достигшее 16 лет, обращается через законного представителя",
    "already-registered": "Лицо уже состоит на учете в АИС «Еңбек нарығы»",
    "already-unemployed": "Лицо уже зарегистрировано в качестве безработного",
    "employed": "По данным ЕСУТД лицо состоит в трудовых отношениях",
    "student": "Лицо обучается по очной форме обучения",
    "pensioner": "Лицо является получателем пенсии",
    "no-card": "Отсутствует личная карточка лица, ищущего работу, в АИС «Еңбек нарығы»",
}


def forced_overdue_at(*, started: dt.datetime, due: dt.datetime) -> dt.datetime:
    """When simulated staff finish a step a scenario makes overdue (``mio:overdue:<step>``): past its maximum by a
    quarter of its allowed time (an hour at least), so it is finished late — the overdue flag, the metric — and the
    case still goes on to its end."""
    return due + max((due - started) / 4, dt.timedelta(hours=1))


def _referral_refusal(regulation: Regulation, form: dict[str, Any]) -> str | None:
    """A referral names a kind of active measure, one its regulation refers to."""
    kind = form.get("referralKind")
    if not kind:
        return "Не указан вид активной меры содействия занятости"
    offered = regulation.referral_kinds or ()
    if kind not in offered:
        return (f"Направление {REFERRAL_KIND_TEXT.get(kind, kind)} регламентом услуги «{regulation.title}» не "
                f"предусмотрено; предусмотрены направления: {'; '.join(REFERRAL_KIND_TEXT.get(k, k) for k in offered)}")
    return None


def _service_refusal(regulation: Regulation, facts: Circumstances, form: dict[str, Any]) -> str | None:
    service = regulation.service
    if service in REGISTRATIONS:
        return _registration_refusal(service, facts)
    if service == "employment.active-measures-referral":
        return _referral_refusal(regulation, form)
    if service == "employment.unemployed-certificate" and not (form.get("periodFrom") and form.get("periodTo")):
        return "Не указан период, за который запрашивается справка"
    return None


def automatic_decision(*, regulation: Regulation, facts: Circumstances, form: dict[str, Any]) -> Decision:
    """What simulated staff decide: approve, or refuse with the reason (grounds assumed from the Standard), the
    grounds of every service first, then the service's own."""
    reason = _person_refusal(regulation, facts) or _service_refusal(regulation, facts, form)
    return (False, reason) if reason else (True, None)


# ---- the result document -------------------------------------------------------------------------------------
POSITIONS = {  # a staff role as a result document names the official's position: (Kazakh, Russian)
    "head": ("Басшы", "Руководитель"), "executor": ("Жауапты орындаушы", "Ответственный исполнитель"),
    "specialist": ("Маман", "Специалист"), "clerk": ("Кеңсе қызметкері", "Сотрудник канцелярии"),
    "centre_specialist": ("Халықты жұмыспен қамту орталығының маманы", "Специалист Центра занятости населения"),
    "employee": ("ЖАО қызметкері", "Сотрудник МИО"),
}
PUBLIC_WORKS = ("public-works", "social-jobs")  # 003 app. 5: «Участие в общественных, социальных работах»
TRAINING = ("vocational-training", "youth-practice")  # «Прошел профессиональную подготовку … молодежную практику»
ASSISTANCE_KINDS = ("targeted-social", "housing")  # «Назначен(а) адресная социальная помощь, жилищная помощь»
PRESENTED_BY_DEFAULT = "по месту требования"
SIMULATOR_MARK = " (симулятор)"


@dataclass(frozen=True)
class Official:
    """A staff member as a result document names them: who signs it, who prepared it."""

    iin: str
    surname: str
    name: str
    role: str

    def content(self, *, with_iin: bool) -> dict[str, str]:
        kk, ru = POSITIONS.get(self.role, ("", self.role))
        named = {"name": f"{self.surname} {self.name}".strip(), "position": ru, "positionKk": kk}
        return named | ({"iin": self.iin} if with_iin else {})


def document_number(*, district: str, year: int, sequence: int) -> str:
    """A result document's own number, from the district's register of outgoing documents: ``ZHZ-D-2026-000001``
    (``D`` for документ; Latin, so it is a safe file name and never an application's ``ZHZ-2026-000001``)."""
    return f"{DISTRICT_PREFIX.get(district, district[:3].upper())}-D-{year}-{sequence:06d}"


def numbered(draft: dict[str, Any], number: str) -> dict[str, Any]:
    """The draft with the number the register of outgoing documents gave it (in the transaction that keeps it)."""
    return {"documentNumber": number} | draft


def issuer_of(regulation: Regulation, organisation: str) -> str:
    """The issuing body as the seed's п. 1 names it (the regulation's ``issuer``); a regulation serving several
    districts (001: «отделами занятости и социальных программ районов, городов Кокшетау и Степногорск») names the
    district's own organisation, as the gateway registered it, without the simulator's mark."""
    return regulation.issuer or organisation.removesuffix(SIMULATOR_MARK)


def _within(day: str | None, start: str | None, end: str | None) -> bool:
    return day is not None and (start is None or day >= start) and (end is None or day <= end)


def register_facts(card: dict[str, Any] | None, *, start: str | None, end: str | None) -> dict[str, Any]:
    """What «Еңбек нарығы» holds for the certificate's period (003 app. 5): the active measures taken — by the
    referral's date — and the assistance granted for any part of it. Dates are ISO days, so they compare as text."""
    events = card.get("events", []) if card else []
    measures = [{"referralKind": e["detail"].get("referralKind"), "documentNumber": e["detail"].get("documentNumber"),
                 "date": e["detail"].get("date") or e["on"]}
                for e in events if e["kind"] == "measure"]
    measures = [{k: v for k, v in m.items() if v is not None} for m in measures if _within(m["date"], start, end)]
    assistance = []
    for event in events:
        detail = event["detail"]
        if event["kind"] != "assistance" or detail.get("kind") not in ASSISTANCE_KINDS:
            continue
        granted, until = detail.get("from") or event["on"], detail.get("to")
        if (end is None or granted <= end) and (start is None or until is None or until >= start):
            assistance.append({k: v for k, v in {"kind": detail["kind"], "from": granted, "to": until,
                                                  "decision": detail.get("decision")}.items() if v is not None})
    return {"publicWorks": [m for m in measures if m.get("referralKind") in PUBLIC_WORKS],
            "training": [m for m in measures if m.get("referralKind") in TRAINING], "assistance": assistance}


def refusal_text(regulation: Regulation) -> tuple[str, str]:
    """(Kazakh, Russian) of seed 003's refusal letter «Доводим до Вашего сведения, что Вам отказано в предоставлении
    справки безработного. Причина отказа: …», for every service: no other seed prescribes its refusal's wording
    (000, 002 and 004 refer to the Standard's appendix), so the object is the service (docs/decisions.md)."""
    if regulation.service == "employment.unemployed-certificate":
        return ("Сізге жұмыссыз анықтамасын беруден бас тартылғанын хабарлаймыз.",
                "Доводим до Вашего сведения, что Вам отказано в предоставлении справки безработного.")
    title_kk = SERVICE_TITLES.get(regulation.service, {}).get("kk", regulation.title)
    return (f"Сізге «{title_kk}» мемлекеттік қызметін көрсетуден бас тартылғанын хабарлаймыз.",
            f"Доводим до Вашего сведения, что Вам отказано в предоставлении государственной услуги "
            f"«{regulation.title}».")


def draft_document(*, regulation: Regulation, application_number: str, applied: dt.datetime, issued: dt.datetime,
                   organisation: str, issuer_bin: str, form: dict[str, Any], person: Registered | None, approve: bool,
                   reason: str | None, card: dict[str, Any] | None, signer: Official | None,
                   specialist: Official | None) -> dict[str, Any]:
    """The output document (справка, уведомление, извещение, направление, or the refusal letter), before signing
    and before its number (``numbered``, in the transaction that keeps it): each field is one the seed's form
    prints, filled from the application, the staff who sign and prepare it, and «Еңбек нарығы» (``card``).

    The person's fields come from ГБД ФЛ as it answered at the decision (``person``, ``Circumstances.named``), never
    from the form: the form's name is what the decision checked, not what it certifies. With no ``person`` (a
    refusal because the form named someone else, or ГБД ФЛ has no data) the document names the IIN alone."""
    kind = document_kind_of(regulation, approve=approve)
    referral = form.get("referralKind") if kind == "referral" else None
    title_kk, title_ru = document_title(kind, referral_kind=referral)
    content: dict[str, Any] = {
        "documentKind": kind, "applicationNumber": application_number,
        "applicationDate": applied.astimezone(KZ_TZ).date().isoformat(),
        "date": issued.astimezone(KZ_TZ).date().isoformat(), "issuer": issuer_of(regulation, organisation),
        # whom a verifier holds the signature to: the district's organisation as the gateway registered it (its BIN),
        # and the regulation whose file says who signs (signature.certificateRole)
        "issuerBin": issuer_bin, "regulationId": regulation.id,
        "service": regulation.title, "regulation": regulation.act,
        **({"applicant": person.full_name} if person is not None else {}),
        "applicantIin": person.iin if person is not None else form["applicantIin"],
        "result": "approved" if approve else "refused", "title": title_ru, "titleKk": title_kk,
    }
    if signer is not None:
        content["signer"] = signer.content(with_iin=True)
    if not approve:
        content["textKk"], content["text"] = refusal_text(regulation)
        content["reason"] = reason
        return content
    if kind in ("unemployed", "unemployed-reference"):  # 004 п. 3: the notice gives the date of registration
        content["registeredOn"] = content["date"]
    if kind == "referral":
        content["referralKind"] = referral
    if kind == "certificate":
        start, end = form.get("periodFrom"), form.get("periodTo")
        content |= {"periodFrom": start, "periodTo": end,
                    "registeredUnemployedSince": card.get("unemployedSince") if card else None,
                    **register_facts(card, start=start, end=end), "validUntil": end,
                    "presentedTo": form.get("presentedTo") or PRESENTED_BY_DEFAULT}
        if specialist is not None:
            content["specialist"] = specialist.content(with_iin=False)
    return content
