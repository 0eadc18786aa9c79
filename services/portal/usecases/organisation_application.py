"""An organisation's application (seed 001 п. 9: «ИИН/БИН» in the request and in the EDS): the form names the
organisation (``applicantBin``) and the representative logged in (``representativeIin``); ``applicantIin`` is the
person the service is for — whose card and facts ИС МИО decides on. Sent, with the copies kept, in one transaction
(``citizen_application``'s)."""

from __future__ import annotations

from services.portal.usecases.citizen_application import keeper, refuse_unknown_service
from services.portal.usecases.form_checks import FormChecks
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.attachments import Content, refuse_mismatched
from shared.employment.case_tracking import Submission, signed_form, submit_once
from shared.employment.logins import eds_error, organisation_refusal
from shared.errors import MeshError
from shared.logging import get_logger, message_context
from shared.mesh.contracts import ApplicationForm, ApplicationRequest
from shared.mesh.member import MemberRuntime
from shared.pki.cert_check import Expectation
from shared.pki.cert_profile import Usage

log = get_logger(__name__)


def refuse_unnamed(form: ApplicationForm, *, bin_: str, representative: str) -> None:
    """The form names the organisation logged in and the representative who is (``ORGANISATION_NOT_NAMED``,
    ``NOT_YOUR_DATA``, ``REPRESENTATIVE_MISMATCH``)."""
    unnamed = [name for name, value in (("applicantBin", form.applicant_bin),
                                        ("representativeIin", form.representative_iin)) if value is None]
    if unnamed:
        raise MeshError("ORGANISATION_NOT_NAMED", f"an organisation's form names {' and '.join(unnamed)}: the "
                        "organisation applying and its representative who signs", details={"fields": unnamed})
    if form.applicant_bin != bin_:
        raise MeshError("NOT_YOUR_DATA", f"an organisation applies only in its own name: the form names BIN "
                        f"{form.applicant_bin}, the login is for {bin_}")
    if form.representative_iin != representative:
        raise MeshError("REPRESENTATIVE_MISMATCH", "the representative the form names is not the one logged in")


class OrganisationApplication:
    def __init__(self, *, sessions: Sessions, runtime: MemberRuntime, clock: MeshClock, checks: FormChecks) -> None:
        self._sessions = sessions
        self._runtime = runtime
        self._clock = clock
        self._checks = checks

    async def submit(self, *, bin_: str, representative: str, request: ApplicationRequest, district: str | None,
                     idempotency_key: str | None = None, copies: list[Content] | None = None) -> Submission:
        """The organisation names the ``district`` whose department it applies to, and it is sent there: the portal
        looks up no one's address for an organisation, so every answer here is the same whoever the form names (a
        person of any district, or an IIN ГБД ФЛ does not know) — nothing is learnt of a person by naming them.
        Only a service whose regulation admits organisations in that district (``applicants``); the EDS on the form
        is the organisation's certificate of that representative (condition 2). Sent once per
        ``idempotency_key``, followed as submitted by the BIN."""
        form = request.form
        refuse_unnamed(form, bin_=bin_, representative=representative)
        refuse_unknown_service(request)
        signed = signed_form(request)
        # condition 2 first: nothing about the person (their district, the channels there) is looked up or told
        # for a form the organisation has not signed with its certificate
        request = await self._refuse_unsigned(request, bin_=bin_, representative=representative)
        if district is None:  # never the person's: their address is not the organisation's to learn, even by a probe
            admitting = self._checks.admitting(form.service_id)
            raise MeshError("DISTRICT_REQUIRED", "an organisation names the district whose department it applies to "
                            "(`district`): the portal does not look up where the person lives for it" + (
                                f"; organisations may apply for {form.service_id} in {', '.join(admitting)}"
                                if admitting else ""), details={"districts": admitting})
        await self._checks.refuse_unfit(iin=form.applicant_iin, form=signed, district=district)
        self._checks.refuse_not_for_organisations(form.service_id, district=district)
        copies = copies or []
        refuse_mismatched(signed.get("documents") or [], copies, content_required=True)
        sent = await submit_once(self._sessions, runtime=self._runtime, request=request, route_id=district,
                                 now=self._clock.now(), scope=f"organisation:{bin_}", key=idempotency_key,
                                 submitted_by=bin_, keep=keeper(bin_, copies, clock=self._clock))
        with message_context(correlation_id=sent.case.correlation_id, service_id=form.service_id):
            log.info("application_replayed" if sent.replayed else "application_sent", applicant="organisation")
        return sent

    async def _refuse_unsigned(self, request: ApplicationRequest, *, bin_: str,
                               representative: str) -> ApplicationRequest:
        """Condition 2: the form's EDS holds and is the organisation's certificate of this representative. The
        request comes back with the OCSP answer this check got stapled, for ИС МИО (as a citizen's)."""
        result, _ = await self._runtime.verifier_or_fail().verify_signed_json(
            value=signed_form(request), signature_b64=request.form_signature, expect=Expectation(usage=Usage.SIGN))
        if not result.ok:
            raise eds_error(result)  # process 4
        assert result.certificate is not None
        refusal = organisation_refusal(result.certificate, bin_=bin_, iin=representative)
        if refusal is not None:
            raise refusal
        return request.stapled(result.ocsp_der)
