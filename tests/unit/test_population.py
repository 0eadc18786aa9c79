"""ГБД ФЛ's synthetic population: the same seed gives the same people; every IIN tells the truth about its
holder; the test kit's claims never hand one person to two testers."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlmodel import select

from services.gbd_fl.handlers import Registry, Wanted
from services.gbd_fl.population import (
    DISTRICT_BY_SLUG,
    KIT_SERIALS,
    add_years,
    age_on,
    generate_population,
    latin,
)
from services.gbd_fl.settings import GbdFlSettings
from services.gbd_fl.store import Person, PopulationState, RegistryFacts
from shared.clock import MeshClock
from shared.db import create_tables, make_engine, make_sessions
from shared.errors import MeshError
from shared.ids import parse_iin

REFERENCE = dt.date(2026, 1, 1)
SEED_DISTRICTS = {"zhezkazgan", "kokshetau", "stepnogorsk", "kyzylorda", "mamlyut", "almaty"}


def _snapshot(people) -> list[tuple]:
    return [(p.iin, p.surname, p.name, p.patronymic, p.birth_date, p.district.slug, p.address, p.phone, p.alive,
             p.employer_bin, p.student_at, p.pension_kind) for p in people]


def test_same_seed_same_people_other_seed_other_people():
    first = generate_population(seed=2026, size=500, today=REFERENCE)
    again = generate_population(seed=2026, size=500, today=REFERENCE)
    other = generate_population(seed=2027, size=500, today=REFERENCE)
    assert _snapshot(first) == _snapshot(again)
    assert {p.iin for p in first} != {p.iin for p in other}


def test_every_iin_encodes_its_holders_birth_date_and_sex_and_is_unique():
    people = generate_population(seed=5, size=3000, today=REFERENCE)
    assert len({p.iin for p in people}) == len(people)
    for person in people:
        info = parse_iin(person.iin)
        assert (info.birth_date, info.sex) == (person.birth_date, person.sex)
        assert int(person.iin[7:11]) not in KIT_SERIALS


def test_the_population_covers_the_seed_districts_with_plausible_facts():
    people = generate_population(seed=5, size=3000, today=REFERENCE)
    assert {p.district.slug for p in people} >= SEED_DISTRICTS
    for person in people:
        assert person.address
        assert person.phone.startswith("+77")
        assert person.district.region == DISTRICT_BY_SLUG[person.district.slug].region
        if person.pension_kind == "age":
            assert age_on(person.birth_date, REFERENCE) >= 61
        if person.employer_bin:
            assert age_on(person.employed_since, REFERENCE) >= 0
            assert person.employed_since >= add_years(person.birth_date, 18)
        if not person.alive:
            assert person.death_date is not None
    adults = [p for p in people if 18 <= age_on(p.birth_date, REFERENCE) <= 60]
    assert 0.3 < sum(1 for p in adults if p.employer_bin) / len(adults) < 0.9
    assert any(not p.alive for p in people)
    assert any(p.student_at for p in people)
    endings = ("ович", "овна", "ұлы", "қызы")
    assert {e for e in endings for p in people if p.patronymic and p.patronymic.endswith(e)} == set(endings)


def test_latin_spelling_and_leap_day_arithmetic():
    assert latin("Жумабаева Әсел") == "ZHUMABAEVA ASEL"
    assert latin("Қожахметұлы") == "KOZHAKHMETULY"
    assert add_years(dt.date(2004, 2, 29), 18) == dt.date(2022, 2, 28)


@pytest.fixture
async def registry(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'gbd.db'}")
    await create_tables(engine, models=[Person, RegistryFacts, PopulationState])
    settings = GbdFlSettings(database_url="sqlite://", population_reference_date=REFERENCE)
    yield Registry(sessions=make_sessions(engine), settings=settings, clock=MeshClock())
    await engine.dispose()


async def _rows(registry: Registry) -> list[tuple]:
    async with registry._sessions() as session:
        people = (await session.exec(select(Person).order_by(Person.iin))).all()
    return [(p.iin, p.surname, p.address, p.district) for p in people]


async def test_a_reset_regenerates_the_same_population(registry):
    await registry.reset(seed=11, size=300)
    first = await _rows(registry)
    await registry.create(Wanted(district="almaty"))
    await registry.reset(seed=11, size=300)
    assert await _rows(registry) == first
    summary = await registry.summary()
    assert (summary["seed"], summary["size"], summary["byOrigin"]) == (11, 300, {"seed": 300})


async def test_concurrent_claims_never_hand_out_the_same_person(registry):
    await registry.reset(seed=3, size=200)
    claims = await asyncio.gather(*(registry.claim(Wanted(min_age=18, max_age=60)) for _ in range(40)))
    iins = [person.iin for person, _ in claims]
    assert len(set(iins)) == len(iins)


async def test_claims_honour_the_filters_and_create_when_none_is_left(registry):
    await registry.reset(seed=3, size=50)
    person, created = await registry.claim(Wanted(district="mamlyut", sex="F", min_age=30, max_age=30,
                                                  employed=False))
    assert (person.district, person.sex) == ("mamlyut", "F")
    assert age_on(person.birth_date, registry._today()) == 30
    assert created is True  # 50 people hold no such woman: the kit made one
    assert int(person.iin[7:11]) in KIT_SERIALS
    _, facts = await registry.get(person.iin)
    assert facts is not None
    assert facts.employer_bin is None


@pytest.mark.parametrize(("wanted", "code"), [
    (Wanted(district="atlantis"), "DISTRICT_UNKNOWN"),
    (Wanted(region="mars"), "REGION_UNKNOWN"),
    (Wanted(region="akmola", district="almaty"), "REGION_MISMATCH"),
    (Wanted(min_age=40, max_age=30), "AGE_RANGE_EMPTY"),
])
async def test_impossible_wishes_are_refused_by_name(registry, wanted, code):
    with pytest.raises(MeshError) as caught:
        await registry.claim(wanted)
    assert caught.value.code == code
