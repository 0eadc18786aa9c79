"""ГБД ФЛ's synthetic population: the same seed gives the same people; every IIN tells the truth about its
holder. (Resets and the test kit's claims, on a database: tests/unit/test_gbd_fl_usecases.py.)"""

from __future__ import annotations

import datetime as dt

from services.gbd_fl.population import (
    DISTRICT_BY_SLUG,
    KIT_SERIALS,
    add_years,
    age_on,
    generate_population,
    latin,
)
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

