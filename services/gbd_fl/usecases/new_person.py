"""A brand-new synthetic person for the test kit, matching its wishes: serials 9000-9999, never the seeded
population's, so a reset of the population and the kit's people never collide."""

from __future__ import annotations

import random

from sqlalchemy.exc import IntegrityError

from services.gbd_fl.domain import Wanted, check_wanted, rows_of
from services.gbd_fl.population import DISTRICT_BY_SLUG, DISTRICTS, KIT_SERIALS, IinAllocator, make_person
from services.gbd_fl.store import Person
from shared.clock import MeshClock
from shared.db import Sessions
from shared.errors import MeshError

_DRAWS = 200


def age_bounds(wanted: Wanted) -> tuple[int, int]:
    """An age bound not given follows the one given (minAge 70 alone is 70 to 70+, not 70 to 60)."""
    low = wanted.min_age if wanted.min_age is not None else min(18, 18 if wanted.max_age is None else wanted.max_age)
    high = wanted.max_age if wanted.max_age is not None else min(110, max(60, low + 10))
    return low, high


class NewPeople:
    def __init__(self, *, sessions: Sessions, clock: MeshClock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def create(self, wanted: Wanted, *, claimed: bool = False) -> Person:
        """Drawn at random until one fits (the facts are drawn too) and its IIN is free; ``claimed``: taken for a
        test at once (a claim that found no seeded person)."""
        check_wanted(wanted)
        rng = random.SystemRandom()
        district = DISTRICT_BY_SLUG[wanted.district] if wanted.district else None
        if district is None and wanted.region:
            district = rng.choice([d for d in DISTRICTS if d.region == wanted.region])
        low, high = age_bounds(wanted)
        today = self._clock.local_now().date()
        for _ in range(_DRAWS):
            seed = make_person(rng, today=today, allocator=IinAllocator(), serials=KIT_SERIALS,
                               district=district, sex=wanted.sex, min_age=low, max_age=high, employed=wanted.employed)
            person, facts = rows_of(seed, origin="kit")
            if not wanted.fits(facts):
                continue
            if claimed:
                person.claimed_at = self._clock.now()
            try:
                async with self._sessions() as session, session.begin():
                    session.add(person)
                    await session.flush()
                    session.add(facts)
            except IntegrityError:  # someone took that IIN a moment ago: draw another
                continue
            return person
        raise MeshError("NO_PERSON_FITS", "no new person could be drawn with these constraints (free IINs, facts)")

