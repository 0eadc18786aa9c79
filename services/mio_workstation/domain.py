"""ИС МИО rules, free of I/O: step deadlines on the mesh clock and the Kazakh calendar, when simulated staff
act, what a decision may be, what the result document says, and what the labour-market register records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.mio_workstation.regulations import Action, Duration, Regulation, Step, Term
from shared.clock import KZ_TZ
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


def card_missing(*, regulation: Regulation, facts: Circumstances) -> str | None:
    """The labour-market precondition of a regulation, as a refusal reason when unmet."""
    if regulation.requires == "job_seeker_card" and not (facts.job_seeker_card or facts.unemployed_card):
        return "Отсутствует личная карточка лица, ищущего работу, в АИС «Еңбек нарығы»"
    if regulation.requires == "unemployed_card" and not facts.unemployed_card:
        return "Лицо не зарегистрировано в качестве безработного в АИС «Еңбек нарығы»"
    if regulation.requires == "any_card" and not (facts.job_seeker_card or facts.unemployed_card):
        return "Отсутствует личная карточка ищущего работу или безработного в АИС «Еңбек нарығы»"
    return None


def automatic_decision(*, regulation: Regulation, facts: Circumstances,
                       form: dict[str, Any]) -> tuple[bool, str | None]:
    """What simulated staff decide: approve, or refuse with the reason (grounds assumed from the Standard)."""
    if not facts.alive:
        return False, "По данным ГБД ФЛ услугополучатель умер"
    missing = card_missing(regulation=regulation, facts=facts)
    if missing:
        return False, missing
    service = regulation.service
    minor = facts.age is not None and facts.age < MIN_AGE and not facts.has_representative
    if minor and service in ("employment.job-seeker-registration", "employment.unemployed-registration"):
        return False, "Лицо, не достигшее 16 лет, обращается через законного представителя"
    if service == "employment.job-seeker-registration" and (facts.job_seeker_card or facts.unemployed_card):
        return False, "Лицо уже состоит на учете в АИС «Еңбек нарығы»"
    if service == "employment.unemployed-registration":
        if facts.unemployed_card:
            return False, "Лицо уже зарегистрировано в качестве безработного"
        for flag, reason in ((facts.employed, "По данным ЕСУТД лицо состоит в трудовых отношениях"),
                             (facts.full_time_student, "Лицо обучается по очной форме обучения"),
                             (facts.pensioner, "Лицо является получателем пенсии")):
            if flag:
                return False, reason
    if service == "employment.active-measures-referral":
        kind = form.get("referralKind")
        if not kind:
            return False, "Не указан вид активной меры содействия занятости"
        offered = regulation.referral_kinds or ()
        if kind not in offered:
            return False, (f"Направление {REFERRAL_KIND_TEXT.get(kind, kind)} регламентом услуги "
                           f"«{regulation.title}» не предусмотрено; предусмотрены направления: "
                           f"{'; '.join(REFERRAL_KIND_TEXT.get(k, k) for k in offered)}")
    if service == "employment.unemployed-certificate" and not (form.get("periodFrom") and form.get("periodTo")):
        return False, "Не указан период, за который запрашивается справка"
    return True, None


def draft_document(*, regulation: Regulation, number: str, issued: dt.datetime, organisation: str,
                   form: dict[str, Any], approve: bool, reason: str | None,
                   card: dict[str, Any] | None) -> dict[str, Any]:
    """The output document (справка, уведомление, направление, or the refusal letter), before signing."""
    applicant = " ".join(filter(None, [form.get("surname"), form.get("name"), form.get("patronymic")]))
    content: dict[str, Any] = {
        "documentNumber": number, "date": issued.astimezone(KZ_TZ).date().isoformat(),
        "issuer": regulation.issuer or organisation,
        "service": regulation.title, "regulation": regulation.act, "applicant": applicant,
        "applicantIin": form["applicantIin"], "result": "approved" if approve else "refused",
        "title": regulation.outcome.approve if approve else regulation.outcome.refuse,
    }
    if not approve:
        content["text"] = (f"Вам отказано в предоставлении государственной услуги «{regulation.title}». "
                           f"Причина отказа: {reason}")
        content["reason"] = reason
        return content
    if regulation.service == "employment.unemployed-certificate":
        content |= {"periodFrom": form.get("periodFrom"), "periodTo": form.get("periodTo"),
                    "registeredUnemployedSince": card.get("unemployedSince") if card else None,
                    "text": "Зарегистрирован(а) в качестве безработного в соответствии со статьей 15 Закона "
                            "Республики Казахстан «О занятости населения»"}
    if regulation.service == "employment.active-measures-referral":
        content["referralKind"] = form.get("referralKind")
    return content
