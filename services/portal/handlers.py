"""The portal's use cases (services/portal/usecases/), built once per app from the member node's collaborators and
kept on ``app.state.portal``, where the routes' dependencies (``services.portal.deps``) find them.

Nothing here decides anything: each rule lives in its use case's module, which a test builds alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from services.portal.settings import PortalSettings
from services.portal.store import Account, OrganisationAccount
from services.portal.usecases.accounts import Accounts
from services.portal.usecases.citizen_application import CitizenApplication
from services.portal.usecases.document_verification import DocumentVerification
from services.portal.usecases.following import Following
from services.portal.usecases.form_checks import FormChecks
from services.portal.usecases.mail_outbox import MailOutbox
from services.portal.usecases.organisation_application import OrganisationApplication
from services.portal.usecases.profile import Profile
from services.portal.usecases.registration import Registration
from services.portal.usecases.registry import Registry, through_gateway
from services.portal.usecases.result_documents import ResultDocuments
from services.portal.usecases.signing_in import SigningIn
from services.portal.usecases.survey import Survey
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.logins import LockOut, Logins
from shared.employment.regulations import RegulationBook
from shared.mesh.member import MemberRuntime
from shared.web.rate_limit import RateLimit


class Portal:
    """Every use case of the portal, and what its HTTP face needs besides: the rate limits of anonymous callers and
    the admin token's guards (``admin``: required; ``precise``: the admin, or an anonymous caller)."""

    def __init__(self, *, sessions: Sessions, runtime: MemberRuntime, clock: MeshClock, settings: PortalSettings,
                 regulations: RegulationBook, members: Callable[[], Awaitable[list[dict]]],
                 admin: Callable[..., None], precise: Callable[..., bool],
                 registry: Registry | None = None) -> None:
        """``members``: the gateway's member registry (its public ``GET /members``), which says which BIN is whose
        when a result document is verified; ``registry``: ГБД ФЛ, through the gateway unless another is given."""
        registry = registry or through_gateway(runtime, timeout_s=settings.registry_timeout_s)
        self.regulations = regulations
        self.admin = admin
        self.precise = precise
        self.logins = Logins(sessions=sessions, clock=clock, audience="egov-mesh portal",
                             verifier=lambda: runtime.verifier, session_minutes=settings.session_minutes,
                             challenge_seconds=settings.challenge_seconds)
        lock = dt.timedelta(minutes=settings.lockout_minutes)
        lockout = LockOut(sessions=sessions, model=Account, key="iin", limit=settings.max_failed_logins, lock=lock)
        organisation_lockout = LockOut(sessions=sessions, model=OrganisationAccount, key="id",
                                       limit=settings.max_failed_logins, lock=lock)
        self.registration = Registration(sessions=sessions, clock=clock, logins=self.logins, registry=registry)
        self.signing_in = SigningIn(sessions=sessions, clock=clock, logins=self.logins, lockout=lockout,
                                    organisation_lockout=organisation_lockout)
        self.accounts = Accounts(sessions=sessions, lockout=lockout, organisation_lockout=organisation_lockout)
        checks = FormChecks(sessions=sessions, regulations=regulations, registry=registry,
                            channel_check_timeout_s=settings.channel_check_timeout_s)
        self.citizen_application = CitizenApplication(sessions=sessions, runtime=runtime, clock=clock, checks=checks)
        self.organisation_application = OrganisationApplication(sessions=sessions, runtime=runtime, clock=clock,
                                                                checks=checks)
        self.following = Following(sessions=sessions, clock=clock)
        self.profile = Profile(sessions=sessions, registry=registry)
        self.documents = ResultDocuments(sessions=sessions, verify_url=settings.document_verify_url or
                                         f"{settings.base_url.rstrip('/')}/documents/verify")
        self.survey = Survey(sessions=sessions, clock=clock)
        self.verification = DocumentVerification(verifier=runtime.verifier_or_fail, members=members,
                                                 book=regulations, clock=clock)
        self.mail = MailOutbox(sessions=sessions)
        self.registrations = RateLimit(per_minute=settings.anonymous_registrations_per_minute, what="registrations")
        self.verifications = RateLimit(per_minute=settings.anonymous_verifications_per_minute,
                                       what="document verifications")
        self.verify_limit = settings.document_max_bytes
