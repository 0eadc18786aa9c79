"""ГБД ФЛ's use cases, each built alone on a SQLite file and a fixed mesh clock — no mesh, no HTTP: the mesh contract's
answers (a person by IIN, the registries' facts), the test-support API's people and facts, new people, claims, and
the population's seeding and reset. What the use-case suite (tests/usecases) checks through the whole mesh, these
check rule by rule, in milliseconds each."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlmodel import select

from services.gbd_fl.domain import NO_DATA, Wanted
from services.gbd_fl.population import KIT_SERIALS, age_on
from services.gbd_fl.registry import Registry
from services.gbd_fl.settings import GbdFlSettings
from services.gbd_fl.store import Person, PopulationState, RegistryFacts
from shared.clock import MeshClock
from shared.db import Sessions, create_tables, make_engine, make_sessions
from shared.errors import MeshError

REFERENCE = dt.date(2026, 1, 1)
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
IIN = "850701300007"  # a man born 1985-07-01
STRANGER = "850701300017"  # another, whom no record names
BIN = "940140000385"


@dataclass
class Gbd:
    registry: Registry
    sessions: Sessions
    clock: MeshClock

    async def people(self) -> list[Person]:
        async with self.sessions() as session:
            return list((await session.exec(select(Person).order_by(Person.iin))).all())

    async def one(self, iin: str) -> tuple[Person | None, RegistryFacts | None]:
        async with self.sessions() as session:
            return await session.get(Person, iin), await session.get(RegistryFacts, iin)


@pytest.fixture
async def gbd(tmp_path) -> AsyncIterator[Gbd]:
    engine = make_engine(f"sqlite:///{tmp_path / 'gbd.db'}")
    await create_tables(engine, models=[Person, RegistryFacts, PopulationState])
    settings = GbdFlSettings(database_url="sqlite://", population_seed=7, population_size=60,
                             population_reference_date=REFERENCE)
    clock = MeshClock(real_time=NOW.timestamp)
    sessions = make_sessions(engine)
    yield Gbd(registry=Registry.over(sessions=sessions, settings=settings, clock=clock), sessions=sessions,
              clock=clock)
    await engine.dispose()


def _person(iin: str = IIN, **changes) -> Person:
    return Person(**{"iin": iin, "surname": "Тестов", "name": "Тест", "birth_date": dt.date(1985, 7, 1), "sex": "M",
                     "region": "almaty", "district": "almaty", "address": "г. Алматы, пр. Абая, 1", **changes})


async def _refused(code: str, action) -> None:
    with pytest.raises(MeshError) as caught:
        await action
    assert caught.value.code == code


# ---- the mesh contract ----------------------------------------------------------------------------------------
async def test_person_by_iin_answers_the_record_or_no_data(gbd: Gbd):
    await gbd.registry.records.put(_person(patronymic="Тестович"))
    found = await gbd.registry.person_by_iin.look_up(IIN)
    assert found.found is True
    assert found.person is not None
    assert (found.person.surname_latin, found.person.birth_date, found.person.district_name) == \
        ("TESTOV", "1985-07-01", "город Алматы")
    unknown = await gbd.registry.person_by_iin.look_up(STRANGER)
    assert (unknown.found, unknown.person, unknown.message) == (False, None, NO_DATA), "«нет данных» is an answer"


async def test_a_malformed_iin_is_the_callers_error_by_name(gbd: Gbd):
    await _refused("IIN_BAD_CHECK_DIGIT", gbd.registry.person_by_iin.look_up("850701300008"))
    await _refused("IIN_LENGTH", gbd.registry.social_status.look_up("85070130000"))


async def test_social_status_tells_each_registrys_fact_and_no_data_for_a_stranger(gbd: Gbd):
    await gbd.registry.records.put(_person())
    bare = await gbd.registry.social_status.look_up(IIN)
    assert bare.found is True, "a known person without facts: none of the three"
    assert None not in (bare.employment, bare.study, bare.pension)
    assert (bare.employment.employed, bare.study.full_time_student, bare.pension.pensioner) == (False, False, False)
    await gbd.registry.records.set_facts(RegistryFacts(iin=IIN, employer_bin=BIN, employer_name="ТОО «Тест»",
                                                       employed_since=dt.date(2020, 1, 1)))
    employed = await gbd.registry.social_status.look_up(IIN)
    assert employed.employment is not None
    assert (employed.employment.employed, employed.employment.employer_bin, employed.employment.since) == \
        (True, BIN, "2020-01-01")
    stranger = await gbd.registry.social_status.look_up(STRANGER)
    assert (stranger.found, stranger.employment, stranger.message) == (False, None, NO_DATA)


# ---- records ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "code"), [
    ({"sex": "F"}, "IIN_SEX_MISMATCH"),
    ({"birth_date": dt.date(1985, 7, 2)}, "IIN_BIRTH_DATE_MISMATCH"),
    ({"district": "atlantis"}, "DISTRICT_UNKNOWN"),
    ({"region": "akmola"}, "REGION_MISMATCH"),
    ({"alive": False}, "DEATH_DATE_REQUIRED"),
    ({"death_date": dt.date(2025, 1, 1)}, "DEATH_DATE_ON_LIVING"),
])
async def test_a_record_that_contradicts_itself_is_refused_and_nothing_is_written(gbd: Gbd, changes, code):
    await _refused(code, gbd.registry.records.put(_person(**changes)))
    assert await gbd.people() == []


async def test_a_replaced_record_keeps_its_origin_and_claim_a_new_one_is_the_admins(gbd: Gbd):
    created = await gbd.registry.records.put(_person())
    assert created.origin == "admin"
    await gbd.registry.population.reset()
    seeded, _ = await gbd.registry.claims.claim(Wanted())
    replaced = await gbd.registry.records.put(Person.model_validate(
        {**seeded.model_dump(), "address": "г. Алматы, ул. Толе би, 2", "origin": "admin", "claimed_at": None}))
    stored, _ = await gbd.one(seeded.iin)
    assert stored is not None
    assert (replaced.origin, stored.origin, stored.address, stored.claimed_at) == \
        ("seed", "seed", "г. Алматы, ул. Толе би, 2", NOW), "a replaced person is still the kit's, still claimed"


async def test_a_change_touches_only_its_fields_and_a_refused_one_none(gbd: Gbd):
    await gbd.registry.records.put(_person(phone="+77011234567"))
    await _refused("DEATH_DATE_REQUIRED", gbd.registry.records.change(IIN, changes={"alive": False}))
    assert (await gbd.one(IIN))[0].alive is True  # type: ignore[union-attr]
    changed = await gbd.registry.records.change(IIN, changes={"alive": False, "death_date": dt.date(2026, 2, 1)})
    assert (changed.alive, changed.death_date, changed.phone) == (False, dt.date(2026, 2, 1), "+77011234567")
    await _refused("PERSON_NOT_FOUND", gbd.registry.records.change(STRANGER, changes={"alive": True}))


async def test_facts_need_a_known_person_a_valid_bin_and_employments_start(gbd: Gbd):
    await _refused("PERSON_NOT_FOUND", gbd.registry.records.set_facts(RegistryFacts(iin=IIN)))
    await gbd.registry.records.put(_person())
    await _refused("BIN_BAD_CHECK_DIGIT", gbd.registry.records.set_facts(RegistryFacts(
        iin=IIN, employer_bin="940140000386", employer_name="X", employed_since=dt.date(2020, 1, 1))))
    await _refused("EMPLOYMENT_SINCE_REQUIRED", gbd.registry.records.set_facts(RegistryFacts(
        iin=IIN, employer_bin=BIN, employer_name="X")))
    assert (await gbd.one(IIN))[1] is None, "nothing written"


async def test_a_removed_person_is_gone_with_the_facts(gbd: Gbd):
    await gbd.registry.records.put(_person())
    await gbd.registry.records.set_facts(RegistryFacts(iin=IIN, student_at="КазНУ", study_until=dt.date(2027, 6, 30)))
    await gbd.registry.records.delete(IIN)
    assert await gbd.one(IIN) == (None, None)
    await _refused("PERSON_NOT_FOUND", gbd.registry.records.delete(IIN))


# ---- new people and claims --------------------------------------------------------------------------------------
async def test_a_new_person_fits_the_wishes_and_takes_a_kit_serial(gbd: Gbd):
    person = await gbd.registry.new_people.create(Wanted(district="mamlyut", sex="F", min_age=25, max_age=40,
                                                         jobless=True))
    _, facts = await gbd.one(person.iin)
    assert (person.district, person.sex, person.origin, person.claimed_at) == ("mamlyut", "F", "kit", None)
    assert 25 <= age_on(person.birth_date, gbd.clock.local_now().date()) <= 40
    assert int(person.iin[7:11]) in KIT_SERIALS
    assert facts is not None
    assert (facts.employer_bin, facts.student_at, facts.pension_kind) == (None, None, None), "jobless"


async def test_an_age_bound_alone_is_followed_not_defaulted(gbd: Gbd):
    """The API fuzz found minAge ≥ 65 without maxAge answering 500: the default 18-60 range was empty."""
    old = await gbd.registry.new_people.create(Wanted(min_age=70))
    young = await gbd.registry.new_people.create(Wanted(max_age=16))
    today = gbd.clock.local_now().date()
    assert 70 <= age_on(old.birth_date, today) <= 80
    assert age_on(young.birth_date, today) <= 16


@pytest.mark.parametrize(("wanted", "code"), [
    (Wanted(district="atlantis"), "DISTRICT_UNKNOWN"),
    (Wanted(region="mars"), "REGION_UNKNOWN"),
    (Wanted(region="akmola", district="almaty"), "REGION_MISMATCH"),
    (Wanted(min_age=40, max_age=30), "AGE_RANGE_EMPTY"),
    (Wanted(employed=True, jobless=True), "WANTED_CONTRADICTS"),
])
async def test_impossible_wishes_are_refused_by_name_and_nobody_is_made(gbd: Gbd, wanted, code):
    await _refused(code, gbd.registry.claims.claim(wanted))
    await _refused(code, gbd.registry.new_people.create(wanted))
    assert await gbd.people() == []


async def test_a_claim_takes_a_seeded_person_first_then_makes_one(gbd: Gbd):
    await gbd.registry.population.reset()
    adults = Wanted(min_age=18, max_age=60)
    person, created = await gbd.registry.claims.claim(adults)
    assert (created, person.origin, person.claimed_at) == (False, "seed", NOW)
    unlikely = Wanted(district="mamlyut", sex="F", min_age=30, max_age=30, employed=False)
    made, created = await gbd.registry.claims.claim(unlikely)
    assert created is True, "60 people hold no such woman: the kit made one"
    assert (made.district, made.sex, made.origin, made.claimed_at) == ("mamlyut", "F", "kit", NOW)
    assert age_on(made.birth_date, gbd.clock.local_now().date()) == 30


async def test_concurrent_claims_never_hand_out_the_same_person(gbd: Gbd):
    await gbd.registry.population.reset(seed=3, size=40)
    claims = await asyncio.gather(*(gbd.registry.claims.claim(Wanted(min_age=18, max_age=60)) for _ in range(30)))
    iins = [person.iin for person, _ in claims]
    assert len(set(iins)) == len(iins)


async def test_a_claimed_or_dead_person_is_never_a_candidate(gbd: Gbd):
    dead = _person(alive=False, death_date=dt.date(2025, 1, 1))
    await gbd.registry.records.put(dead)
    async with gbd.sessions() as session, session.begin():
        (await session.get(Person, IIN)).origin = "seed"  # type: ignore[union-attr]
    async with gbd.sessions() as session:
        assert (await session.exec(gbd.registry.claims.candidates(Wanted()))).all() == []


# ---- the population ---------------------------------------------------------------------------------------------
async def test_a_reset_regenerates_the_same_people_and_drops_the_kits(gbd: Gbd):
    await gbd.registry.population.reset(seed=11, size=50)
    first = [(p.iin, p.surname, p.address) for p in await gbd.people()]
    await gbd.registry.new_people.create(Wanted(district="almaty"))
    summary = await gbd.registry.population.reset(seed=11, size=50)
    assert [(p.iin, p.surname, p.address) for p in await gbd.people()] == first
    assert (summary.seed, summary.size, summary.by_origin, summary.claimed, summary.reference_date) == \
        (11, 50, {"seed": 50}, 0, REFERENCE)


async def test_the_population_is_seeded_once_from_the_settings(gbd: Gbd):
    empty = await gbd.registry.population.summary()
    assert (empty.seed, empty.size, empty.reference_date, empty.by_district) == (None, 0, None, {})
    await gbd.registry.population.seed_if_empty()
    await gbd.registry.claims.claim(Wanted())
    kit = await gbd.registry.new_people.create(Wanted())
    await gbd.registry.population.seed_if_empty()  # a restart: the people, the kit's and the claims stay
    summary = await gbd.registry.population.summary()
    assert (summary.seed, summary.size, summary.by_origin, summary.claimed) == (7, 60, {"seed": 60, "kit": 1}, 1)
    assert sum(summary.by_district.values()) == 61
    assert (await gbd.one(kit.iin))[0] is not None

