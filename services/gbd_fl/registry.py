"""ГБД ФЛ as wired: its use cases over one database and clock, built once at start-up — what the mesh consumers
serve (``consumers.py``) and what the routes reach through ``app.state.registry`` (``deps.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from services.gbd_fl.settings import GbdFlSettings
from services.gbd_fl.usecases.claim import Claims
from services.gbd_fl.usecases.new_person import NewPeople
from services.gbd_fl.usecases.person_by_iin import PersonByIin
from services.gbd_fl.usecases.records import Records
from services.gbd_fl.usecases.seeding import Population, PopulationDefaults
from services.gbd_fl.usecases.social_status import SocialStatusByIin
from shared.clock import MeshClock
from shared.db import Sessions


@dataclass(frozen=True)
class Registry:
    person_by_iin: PersonByIin
    social_status: SocialStatusByIin
    records: Records
    new_people: NewPeople
    claims: Claims
    population: Population

    @classmethod
    def over(cls, *, sessions: Sessions, settings: GbdFlSettings, clock: MeshClock) -> Registry:
        new_people = NewPeople(sessions=sessions, clock=clock)
        defaults = PopulationDefaults(seed=settings.population_seed, size=settings.population_size,
                                      reference_date=settings.population_reference_date)
        return cls(person_by_iin=PersonByIin(sessions=sessions), social_status=SocialStatusByIin(sessions=sessions),
                   records=Records(sessions=sessions), new_people=new_people,
                   claims=Claims(sessions=sessions, clock=clock, new_people=new_people),
                   population=Population(sessions=sessions, clock=clock, defaults=defaults))
