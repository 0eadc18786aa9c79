"""The head (or the signer the regulation names) signs the draft with their EDS: a staff member sends the detached
CMS over the draft's RFC 8785 form, held to their employee certificate of the district's organisation with the role
the regulation requires and to the action's mesh time; simulated staff sign with the named official's key."""

from __future__ import annotations

from services.mio_workstation.store import StaffAccount
from services.mio_workstation.usecases.actions.base import (
    ActionRequest,
    Facilities,
    Prepared,
    Signed,
    StepAction,
)
from services.mio_workstation.usecases.roles import check_named_signer
from shared.employment.logins import eds_refusal
from shared.employment.regulations import Action
from shared.errors import MeshError
from shared.pki.cert_check import Expectation
from shared.pki.cert_profile import Holder, Usage
from shared.pki.signing import refuse_signing_time, sign_json


async def _simulated(request: ActionRequest, facilities: Facilities) -> Prepared:
    app, regulation = request.app, request.regulation
    assert app.draft is not None
    named = app.draft.get("signer", {}).get("iin")  # the official the draft names as its signer
    signer = await facilities.staff.get(named) if named else await facilities.staff.find(
        district=app.district, role=regulation.signature.role)
    if signer is None:
        raise MeshError("NO_SIGNER", f"{app.district} has no {regulation.signature.role} to sign")
    return Signed(signature=sign_json(value=app.draft, signer=facilities.staff.signer(signer), at=request.at),
                  signer=signer.iin)  # signed at the step's mesh time: the document is judged at it


class Sign(StepAction):
    action = Action.SIGN

    async def prepare(self, request: ActionRequest, facilities: Facilities) -> Prepared:
        app, actor = request.app, request.actor
        assert app.draft is not None
        check_named_signer(app=app, actor=actor)
        if actor is None:
            return await _simulated(request, facilities)
        if not request.body.signature:
            raise MeshError("SIGNATURE_REQUIRED", "sign the draft (GET …/draft) and send the signature")
        return await _verified(request, facilities, actor, request.body.signature)


async def _verified(request: ActionRequest, facilities: Facilities, actor: StaffAccount, signature: str) -> Prepared:
    app, regulation = request.app, request.regulation
    assert app.draft is not None
    result, verified = await facilities.districts.verifier(app.district).verify_signed_json(
        value=app.draft, signature_b64=signature, expect=Expectation(
            usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=actor.iin,
            bin=facilities.staff.organisation_bin(app.district), role=regulation.signature.certificate_role))
    if not result.ok:
        # the signer stays logged in: the code (EDS_*, not SESSION_*) says it is the document's signature that
        # is refused
        raise MeshError(eds_refusal(result), f"the signature on {app.number} is not the "
                        f"{regulation.signature.role}'s valid EDS: {result.message}")
    assert verified is not None
    refuse_signing_time(verified, now=request.at, what=f"the signature on {app.number}")
    return Signed(signature=signature, signer=actor.iin)
