"""ИС ЦОН's objects, wired once at start-up and reached by the routes through ``app.state.centre``
(``deps.py``): the books (branches, operators) and the use cases, each given its collaborators here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.con_operator.branches import BranchBook
from services.con_operator.operators import OperatorBook
from services.con_operator.settings import ConOperatorSettings
from services.con_operator.usecases.admin import AdminApplications
from services.con_operator.usecases.hand_out import HandOut
from services.con_operator.usecases.intake import Intake, PersonLookup
from services.con_operator.usecases.logins import OperatorLogins
from services.con_operator.usecases.queue import Queue
from services.con_operator.usecases.results import Results
from services.con_operator.usecases.scans import Scans
from services.con_operator.usecases.sending import SignAndSend
from services.con_operator.usecases.visits import Visits
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.logins import Logins
from shared.employment.regulations import RegulationBook
from shared.mesh.member import MemberRuntime
from shared.web.rate_limit import RateLimit


@dataclass(frozen=True)
class Centre:
    sessions: Sessions
    clock: MeshClock
    branches: BranchBook
    operators: OperatorBook
    logins: OperatorLogins
    queue: Queue
    scans: Scans
    visits: Visits
    intake: Intake
    sign_and_send: SignAndSend
    results: Results
    hand_out: HandOut
    admin: AdminApplications
    admin_token: Callable[[], str]  # the admin may read what an operator of any branch reads
    kiosk: RateLimit  # tickets, per address: the kiosk is anonymous
    challenges: RateLimit  # EDS login challenges, per address: anonymous, each one a row


def build_centre(*, settings: ConOperatorSettings, sessions: Sessions, clock: MeshClock, runtime: MemberRuntime,
                 branches: BranchBook, regulations: RegulationBook, logins: Logins, operators: OperatorBook,
                 person_lookup: PersonLookup, admin_token: Callable[[], str]) -> Centre:
    queue = Queue(sessions=sessions, clock=clock, branches=branches)
    scans = Scans(sessions=sessions, clock=clock, max_scan_bytes=settings.max_scan_bytes)
    visits = Visits(sessions=sessions, clock=clock, regulations=regulations)
    verifier = runtime.verifier_or_fail
    return Centre(
        sessions=sessions, clock=clock, branches=branches, operators=operators,
        logins=OperatorLogins(clock=clock, logins=logins, operators=operators),
        queue=queue, scans=scans, visits=visits,
        intake=Intake(sessions=sessions, clock=clock, branches=branches, queue=queue, scans=scans, visits=visits,
                      person_lookup=person_lookup),
        sign_and_send=SignAndSend(sessions=sessions, clock=clock, runtime=runtime, verifier=verifier,
                                  centre=operators.centre, queue=queue, scans=scans, visits=visits),
        results=Results(sessions=sessions, clock=clock, branches=branches, visits=visits, verifier=verifier,
                        centre=operators.centre),
        hand_out=HandOut(sessions=sessions, clock=clock, runtime=runtime, queue=queue, visits=visits),
        admin=AdminApplications(sessions=sessions, clock=clock, runtime=runtime, branches=branches,
                                operators=operators),
        admin_token=admin_token,
        kiosk=RateLimit(per_minute=settings.tickets_per_minute, what="tickets"),
        challenges=RateLimit(per_minute=settings.tickets_per_minute, what="login challenges"),
    )
