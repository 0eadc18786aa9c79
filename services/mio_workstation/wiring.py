"""ИС МИО assembled: every use case built once over the node's sessions, clock and district members, and kept on
``app.state.mio`` for the routes (``routes.deps``). The one place that knows how the units fit together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.mio_workstation.auto_runner import AutoRunner
from services.mio_workstation.settings import MioSettings
from services.mio_workstation.usecases.act import StepActions
from services.mio_workstation.usecases.actions import Facilities
from services.mio_workstation.usecases.automatic import SimulatedStaff
from services.mio_workstation.usecases.districts import Districts
from services.mio_workstation.usecases.form_signature import FormSignatures
from services.mio_workstation.usecases.modes import Modes
from services.mio_workstation.usecases.office_intake import OfficeIntake
from services.mio_workstation.usecases.opening import Opening
from services.mio_workstation.usecases.reads import Reads
from services.mio_workstation.usecases.receiving import Receiving
from services.mio_workstation.usecases.register import LabourRegister
from services.mio_workstation.usecases.registries import Registries
from services.mio_workstation.usecases.staff_directory import StaffDirectory
from services.mio_workstation.usecases.staff_enrolment import StaffEnrolment
from services.mio_workstation.usecases.staff_logins import StaffLogins
from services.mio_workstation.usecases.steps import Steps
from shared.employment.logins import Logins
from shared.employment.regulations import RegulationBook
from shared.mesh.member_node import MemberNode
from shared.working_calendar import WorkingCalendar


@dataclass(frozen=True)
class Mio:
    """What the routes reach: the regulations, the districts, and the use cases."""

    book: RegulationBook
    districts: Districts
    staff: StaffDirectory
    enrolment: StaffEnrolment
    logins: StaffLogins
    reads: Reads
    register: LabourRegister
    intake: OfficeIntake
    receiving: Receiving
    actions: StepActions
    simulated: SimulatedStaff
    modes: Modes
    runner: AutoRunner
    admin_token: Callable[[], str]


def assemble(*, node: MemberNode, settings: MioSettings, book: RegulationBook, districts: list[str]) -> Mio:
    sessions, clock, calendar = node.sessions, node.clock, WorkingCalendar()
    members = Districts(node.runtimes)
    staff = StaffDirectory(sessions=sessions)
    logins = Logins(sessions=sessions, clock=clock, audience="egov-mesh ИС МИО", verifier=lambda: node.verifier,
                    session_minutes=settings.session_minutes, challenge_seconds=settings.challenge_seconds)
    register = LabourRegister(sessions=sessions, clock=clock, keepers=book.register_keepers)
    reads = Reads(sessions=sessions, clock=clock)
    steps = Steps(clock=clock, calendar=calendar, districts=members)
    opening = Opening(clock=clock, calendar=calendar, districts=members, steps=steps,
                      default_mode=settings.default_mode, default_share=settings.auto_share)
    signatures = FormSignatures(districts=members, staff=staff)
    facilities = Facilities(staff=staff, register=register, registries=Registries(districts=members, register=register),
                            districts=members)
    actions = StepActions(sessions=sessions, book=book, steps=steps, districts=members, register=register,
                          facilities=facilities)
    simulated = SimulatedStaff(sessions=sessions, clock=clock, book=book, actions=actions)
    return Mio(
        book=book, districts=members, staff=staff,
        enrolment=StaffEnrolment(sessions=sessions, book=book, nuc=node.nuc, gateway=node.gateway, directory=staff,
                                 districts=districts),
        logins=StaffLogins(sessions=sessions, clock=clock, directory=staff, logins=logins),
        reads=reads, register=register,
        intake=OfficeIntake(sessions=sessions, book=book, districts=members, signatures=signatures, opening=opening,
                            reads=reads),
        receiving=Receiving(book=book, signatures=signatures, opening=opening),
        actions=actions, simulated=simulated,
        modes=Modes(sessions=sessions, book=book, districts=members, default_mode=settings.default_mode,
                    default_share=settings.auto_share),
        runner=AutoRunner(staff=simulated, districts=members, clock=clock),
        admin_token=settings.mesh.admin_token.get_secret_value)
