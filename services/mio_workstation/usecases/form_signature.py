"""Condition 2 of every regulation: the EDS on the form is valid, unrevoked, and the signer's — the applicant's, the
ЦОН operator's named on the form, the МИО employee's who enters it, or (a form naming an organisation, applicantBin,
and only such a form) the organisation's: a certificate with that BIN and the IIN of the representative the form
names. Checked before the intake's transaction: it takes I/O (OCSP)."""

from __future__ import annotations

from typing import Any

from services.mio_workstation.store import StaffAccount
from services.mio_workstation.usecases.districts import Districts
from services.mio_workstation.usecases.staff_directory import StaffDirectory
from shared.mesh.failures import OutageFailure
from shared.mesh.member import NUC
from shared.pki.cert_check import Expectation, is_transient, refusal_code
from shared.pki.cert_profile import Holder, Usage


class FormSignatures:
    def __init__(self, *, districts: Districts, staff: StaffDirectory) -> None:
        self._districts = districts
        self._staff = staff

    def _expectation(self, *, form: dict[str, Any], signed_by: str, district: str,
                     staff: StaffAccount | None) -> Expectation | str:
        """Whose EDS the form must carry, or why no EDS of this signer can be right (a refusal reason)."""
        if bool(form.get("applicantBin")) != (signed_by == "organisation"):
            return ("Заявление от имени организации (applicantBin) подписывается ЭЦП этой организации, и только оно"
                    if form.get("applicantBin") else "Заявление, подписанное ЭЦП организации, не называет её БИН "
                    "(applicantBin)")
        if signed_by == "applicant":
            return Expectation(usage=Usage.SIGN, holder=Holder.INDIVIDUAL, iin=form["applicantIin"])
        if signed_by == "organisation":
            if not form.get("representativeIin"):
                return "Заявление организации не называет её представителя, подписавшего его (representativeIin)"
            return Expectation(usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=form["representativeIin"],
                               bin=form["applicantBin"])
        if signed_by == "employee":
            if staff is None:
                return "Заявление, поступившее извне, не может быть подписано сотрудником МИО"
            return Expectation(usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=staff.iin,
                               bin=self._staff.organisation_bin(district))
        if not form.get("operatorIin"):
            return "Заявление, подписанное оператором ЦОН, не называет оператора (operatorIin)"
        # the operator named on the form, an employee of the State Corporation (the proven sender's BIN)
        return Expectation(usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=form["operatorIin"],
                           bin=self._staff.centre_bin(), role="operator")

    async def refusal(self, *, form: dict[str, Any], signature: str, signed_by: str, district: str,
                      staff: StaffAccount | None, stapled: bytes | None = None) -> str | None:
        """Why the form's EDS is not confirmed (a refusal reason), or None; an outage of НУЦ is an
        ``OutageFailure`` (retried by the consumer, 503 to the office), never a refusal. ``stapled``: the
        sender's OCSP answer about the signer (``ApplicationRequest.stapled_ocsp``), used while fresh."""
        verifier = self._districts.verifier(district)
        expect = self._expectation(form=form, signed_by=signed_by, district=district, staff=staff)
        if isinstance(expect, str):
            return expect
        result, _ = await verifier.verify_signed_json(value=form, signature_b64=signature, expect=expect,
                                                      stapled=stapled)
        if result.ok:
            return None
        if is_transient(result):
            raise OutageFailure(refusal_code(result), f"cannot check the form's EDS now: {result.message}",
                                details={"failedAt": NUC})
        return f"ЭЦП на заявлении не подтверждена ({result.failure.value if result.failure else ''}): {result.message}"
