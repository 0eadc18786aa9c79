"""ИС МИО rules without I/O: step deadlines on the Kazakh calendar, when simulated staff act, what they
decide, and how a district joins the gateway registry."""

from __future__ import annotations

import datetime as dt

import pytest

from services.mio_workstation.domain import (
    IDENTITY_NOT_CONFIRMED,
    Circumstances,
    Registered,
    application_number,
    auto_at,
    automatic_decision,
    card_missing,
    draft_document,
    identity_problem,
    next_action,
    step_due,
    term_due,
)
from services.mio_workstation.onboarding import granted_already, member_entry, service_grant
from shared.clock import KZ_TZ
from shared.employment.regulations import Duration, RegulationBook, RegulationError
from shared.working_calendar import CountingRule, WorkingCalendar

CALENDAR = WorkingCalendar()
BOOK = RegulationBook.load()
FRIDAY_11_DEC = dt.datetime(2026, 12, 11, 10, 0, tzinfo=KZ_TZ)  # Wednesday 16 December is Independence Day
EXCLUDE, INCLUDE = CountingRule.EXCLUDE_ACCEPTANCE_AND_ISSUE, CountingRule.INCLUDE_ACCEPTANCE


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=KZ_TZ)


def test_a_step_in_minutes_is_due_that_many_minutes_of_mesh_time_later():
    assert step_due(started=FRIDAY_11_DEC, duration=Duration(minutes=30), calendar=CALENDAR) == \
        FRIDAY_11_DEC + dt.timedelta(minutes=30)


@pytest.mark.parametrize(("days", "rule", "due"), [
    (3, EXCLUDE, dt.date(2026, 12, 17)),  # 14, 15, (16 holiday), 17
    (3, INCLUDE, dt.date(2026, 12, 15)),  # 11, (weekend), 14, 15
    (1, INCLUDE, dt.date(2026, 12, 11)),
])
def test_a_step_in_working_days_ends_with_the_last_day_its_rule_counts(days, rule, due):
    duration = Duration(working_days=days, counting=rule)
    assert step_due(started=FRIDAY_11_DEC, duration=duration, calendar=CALENDAR) == _end_of(due)


def test_the_exclusive_rules_term_ends_on_the_issue_day_after_the_counted_days():
    regulation = BOOK.all["mamlyut.unemployed-certificate.con"]
    assert term_due(accepted=FRIDAY_11_DEC, term=regulation.term, calendar=CALENDAR) == _end_of(dt.date(2026, 12, 18))
    assert term_due(accepted=FRIDAY_11_DEC, term=None, calendar=CALENDAR) is None


def test_simulated_staff_act_after_their_share_of_the_allowed_time():
    due = FRIDAY_11_DEC + dt.timedelta(minutes=20)
    assert auto_at(started=FRIDAY_11_DEC, due=due, share=0.5) == FRIDAY_11_DEC + dt.timedelta(minutes=10)
    assert auto_at(started=FRIDAY_11_DEC, due=due, share=1.5) > due  # a share above 1 makes staff late


def test_numbers_are_per_district_and_year():
    assert application_number(district="mamlyut", year=2026, sequence=7) == "MAM-2026-000007"
    assert application_number(district="shymkent", year=2027, sequence=1) == "SHY-2027-000001"


def test_the_next_action_is_the_first_undone_one_of_the_step():
    step = BOOK.all["kyzylorda.job-seeker-registration.portal"].steps[-1]
    assert step.does == ("sign", "issue")
    assert [next_action(step, done) for done in ([], ["sign"], ["sign", "issue"])] == ["sign", "issue", None]


def _facts(**changes) -> Circumstances:
    base = {"age": 30, "alive": True, "employed": False, "full_time_student": False, "pensioner": False,
            "job_seeker_card": True, "unemployed_card": False, "has_representative": False}
    return Circumstances(**(base | changes))


PERIOD = {"periodFrom": "2026-01-01", "periodTo": "2026-06-30"}


@pytest.mark.parametrize(("regulation_id", "facts", "form"), [
    ("kyzylorda.unemployed-registration.office", _facts(), {}),
    ("zhezkazgan.job-seeker-registration.portal", _facts(job_seeker_card=False), {}),
    ("mamlyut.unemployed-certificate.portal", _facts(job_seeker_card=False, unemployed_card=True), PERIOD),
    ("akmola.active-measures-referral.portal", _facts(), {"referralKind": "public-works"}),
])
def test_simulated_staff_approve_when_nothing_stands_in_the_way(regulation_id, facts, form):
    assert automatic_decision(regulation=BOOK.all[regulation_id], facts=facts, form=form) == (True, None)


@pytest.mark.parametrize(("regulation_id", "facts", "form", "reason"), [
    ("kyzylorda.unemployed-registration.office", _facts(employed=True), {}, "трудовых отношениях"),
    ("kyzylorda.unemployed-registration.office", _facts(pensioner=True), {}, "пенсии"),
    ("kyzylorda.unemployed-registration.office", _facts(full_time_student=True), {}, "очной форме"),
    ("kyzylorda.unemployed-registration.office", _facts(job_seeker_card=False), {}, "Отсутствует личная карточка"),
    ("zhezkazgan.job-seeker-registration.portal", _facts(), {}, "уже состоит на учете"),
    ("zhezkazgan.job-seeker-registration.portal", _facts(job_seeker_card=False, age=15), {}, "16 лет"),
    ("zhezkazgan.job-seeker-registration.portal", _facts(job_seeker_card=False, alive=False), {}, "умер"),
    ("mamlyut.unemployed-certificate.portal", _facts(), PERIOD, "не зарегистрировано в качестве безработного"),
    ("mamlyut.unemployed-certificate.portal", _facts(unemployed_card=True), {}, "Не указан период"),
    ("akmola.active-measures-referral.portal", _facts(), {}, "Не указан вид активной меры"),
    ("kyzylorda.active-measures-referral.portal", _facts(), {"referralKind": "vocational-training"},
     "на профессиональную подготовку, переподготовку и повышение квалификации регламентом услуги"),
])
def test_simulated_staff_refuse_with_the_reason(regulation_id, facts, form, reason):
    approve, why = automatic_decision(regulation=BOOK.all[regulation_id], facts=facts, form=form)
    assert approve is False
    assert reason in (why or "")


def test_a_referral_kind_the_regulation_does_not_offer_is_refused_naming_what_it_offers():
    facts, form = _facts(), {"referralKind": "career-guidance"}
    assert automatic_decision(regulation=BOOK.all["akmola.active-measures-referral.office"], facts=facts,
                              form=form) == (True, None)  # seed 001 п. 3, пп. 6
    approve, why = automatic_decision(regulation=BOOK.all["kyzylorda.active-measures-referral.office"], facts=facts,
                                      form=form)
    assert approve is False
    assert "не предусмотрено" in (why or "")
    assert "на молодежную практику" in (why or "")
    assert len(why or "") <= 500, "fits the application's reason column"


def test_almaty_steps_add_up_to_the_term_of_registration_as_unemployed():
    """Seed 004, registration as unemployed, п. 5 пп. 3-4: 2 working days to decide, then 1 to notify."""
    regulation = BOOK.all["almaty.unemployed-registration.office"]
    end = FRIDAY_11_DEC
    for step in regulation.steps:
        end = step_due(started=end, duration=step.max, calendar=CALENDAR)
    assert end == term_due(accepted=FRIDAY_11_DEC, term=regulation.term, calendar=CALENDAR) == \
        _end_of(dt.date(2026, 12, 15))  # 11, (weekend), 14, 15


def test_the_result_names_the_issuer_the_seed_names():
    form = {"applicantIin": "900101300001", "surname": "Ахметов", "name": "Ержан"}
    kwargs = {"application_number": "X-1", "applied": FRIDAY_11_DEC, "issued": FRIDAY_11_DEC,
              "organisation": "ГУ «Отдел» (симулятор)", "issuer_bin": "000740000728",
              "form": form, "person": None, "approve": True, "reason": None, "card": None,
              "signer": None, "specialist": None}
    almaty = draft_document(regulation=BOOK.all["almaty.job-seeker-registration.office"], **kwargs)
    akmola = draft_document(regulation=BOOK.all["akmola.active-measures-referral.office"], **kwargs)
    # 001 п. 1 names the district's own отдел: the gateway's organisation, without the simulator's mark
    assert (almaty["issuer"], akmola["issuer"]) == ("Центр занятости населения", "ГУ «Отдел»")


def test_a_card_is_required_only_where_the_regulation_says():
    assert card_missing(regulation=BOOK.all["almaty.job-seeker-registration.portal"],
                        facts=_facts(job_seeker_card=False)) is None
    assert "безработного" in (card_missing(regulation=BOOK.all["mamlyut.unemployed-certificate.con"],
                                           facts=_facts()) or "")


def test_a_new_district_joins_the_registry_with_the_organisation_its_file_gives():
    with pytest.raises(RegulationError, match=r"field organisations\.almaty"):
        member_entry(district="almaty", book=BOOK)  # the shipped districts are in the seed registry instead
    regulation = BOOK.all["almaty.job-seeker-registration.con"]
    seeded = {"id": regulation.service, "title": "t", "channel": "async", "providers": ["mio.almaty"],
              "routeBy": "district", "callers": ["portal"], "notify": ["portal"]}
    grant = service_grant(regulation=regulation, member_id="mio.shymkent")
    assert (grant["providers"], grant["callers"], grant["notify"]) == (["mio.shymkent"], ["con"], ["portal", "con"])
    assert not granted_already(current=seeded, grant=grant)
    joined = seeded | {"providers": ["mio.almaty", "mio.shymkent"], "callers": ["portal", "con"],
                       "notify": ["portal", "con"]}
    assert granted_already(current=joined, grant=grant), "a restart asks for nothing it has"


# ---- issue 17: the result names the person ГБД ФЛ holds, when the form names them so -------------------------------
HELD = Registered(iin="900101300001", surname="Ахметов", name="Ержан", patronymic="Сәкенұлы")


@pytest.mark.parametrize(("names", "problem"), [
    ({"surname": "Ахметов", "name": "Ержан", "patronymic": "Сәкенұлы"}, None),
    ({"surname": "АХМЕТОВ", "name": " ержан "}, None),  # capitals, spaces, no patronymic («при наличии»)
    ({"surname": "Ахмётов", "name": "Ержан"}, None),  # «ё» for «е»
    ({"surname": "X", "name": "Y"}, IDENTITY_NOT_CONFIRMED),
    ({"surname": "Ахметов", "name": "Ержан", "patronymic": "Абишевич"}, IDENTITY_NOT_CONFIRMED),
])
def test_the_forms_name_is_the_registrys_or_the_application_is_refused(names, problem):
    form = {"applicantIin": HELD.iin} | names
    assert identity_problem(form, HELD) == problem
    assert identity_problem(form, None) == IDENTITY_NOT_CONFIRMED, "no data: the same reason as a wrong name"
    facts = _facts(job_seeker_card=False, registered=HELD, identity=identity_problem(form, HELD))
    approve, why = automatic_decision(regulation=BOOK.all["zhezkazgan.job-seeker-registration.portal"], facts=facts,
                                      form=form)
    assert (approve, why) == ((True, None) if problem is None else (False, IDENTITY_NOT_CONFIRMED))


def test_the_draft_names_the_person_as_the_registry_holds_them_or_by_the_iin_alone():
    form = {"applicantIin": HELD.iin, "surname": "АХМЕТОВ", "name": "ЕРЖАН"}
    kwargs = {"application_number": "X-1", "applied": FRIDAY_11_DEC, "issued": FRIDAY_11_DEC,
              "organisation": "ГУ «Отдел» (симулятор)", "issuer_bin": "000740000728", "form": form, "card": None,
              "signer": None, "specialist": None, "regulation": BOOK.all["zhezkazgan.job-seeker-registration.office"]}
    approved = draft_document(person=HELD, approve=True, reason=None, **kwargs)
    refused = draft_document(person=None, approve=False, reason=IDENTITY_NOT_CONFIRMED, **kwargs)
    assert (approved["applicant"], approved["applicantIin"]) == ("Ахметов Ержан Сәкенұлы", HELD.iin)
    assert "applicant" not in refused
    assert (refused["applicantIin"], refused["reason"]) == (HELD.iin, IDENTITY_NOT_CONFIRMED)
