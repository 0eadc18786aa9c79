"""Test support through the admin token: applications sent through ИС ЦОН without a visit (batches, benchmarks).

It skips the queue and the desk, not the rules: the form is signed by the applicant, or (no signature given) by a
seeded operator of the branch serving the district, and ИС МИО checks it as any ЦОН application. With an
``Idempotency-Key`` a repeat gets the first call's case back (``submit_once``: the case and the key in one
transaction with the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from services.con_operator.branches import Branch, BranchBook
from services.con_operator.operators import OperatorBook
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.attachments import decode, refuse_mismatched, wire
from shared.employment.case_tracking import Submission, submit_once
from shared.errors import MeshError
from shared.mesh.contracts import EMPLOYMENT_SERVICES, ApplicationForm, ApplicationRequest
from shared.mesh.member import MemberRuntime
from shared.pki.signing import sign_json

ADMIN_SCOPE = "admin"  # the Idempotency-Key's scope


@dataclass(frozen=True)
class AdminApplication:
    form: ApplicationForm
    form_signature: str | None  # None with signed_by operator: a seeded operator of the district's branch signs
    signed_by: Literal["applicant", "operator"]
    district: str | None
    attachments: list[dict[str, Any]]  # the copies the form names: name, sha256, contentType, contentBase64…


class AdminApplications:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, runtime: MemberRuntime, branches: BranchBook,
                 operators: OperatorBook) -> None:
        self._sessions = sessions
        self._clock = clock
        self._runtime = runtime
        self._branches = branches
        self._operators = operators

    async def send(self, application: AdminApplication, *, key: str | None) -> Submission:
        if application.form.service_id not in EMPLOYMENT_SERVICES:
            raise MeshError("SERVICE_UNKNOWN", f"ИС ЦОН sends {', '.join(EMPLOYMENT_SERVICES)}")
        form, signature = application.form, application.form_signature
        if signature is None:
            form, signature = await self._signed_by_operator(application)
        copies = decode(application.attachments)
        refuse_mismatched(form.model_dump(by_alias=True, exclude_unset=True).get("documents") or [], copies,
                          content_required=True)
        request = ApplicationRequest(form=form, form_signature=signature, signed_by=application.signed_by,
                                     attachments=wire(copies))
        return await submit_once(self._sessions, runtime=self._runtime, request=request,
                                 route_id=application.district, now=self._clock.now(), scope=ADMIN_SCOPE, key=key)

    def branch_serving(self, district: str) -> Branch:
        branch = next((b for b in self._branches.all.values() if b.district == district), None)
        if branch is None:
            raise MeshError("BRANCH_NOT_FOUND", f"no ЦОН branch serves {district}")
        return branch

    async def _signed_by_operator(self, application: AdminApplication) -> tuple[ApplicationForm, str]:
        """The form as the first seeded operator of the district's branch fills and signs it (its IIN and branch
        on the form)."""
        if application.signed_by != "operator" or application.district is None:
            raise MeshError("SIGNATURE_REQUIRED", "give formSignature, or signedBy operator with a district")
        branch = self.branch_serving(application.district)
        staff = await self._operators.everyone(branch.id)
        if not staff:
            raise MeshError("OPERATOR_NOT_FOUND", f"branch {branch.id} has no operator")
        form = ApplicationForm.model_validate(application.form.model_dump(by_alias=True, exclude_unset=True) | {
            "operatorIin": staff[0].iin, "centreBranch": branch.id})
        signature = sign_json(value=form.model_dump(by_alias=True, exclude_unset=True),
                              signer=self._operators.signer(staff[0]))
        return form, signature
