"""An application through the gateway, delivered to a district's ИС МИО. What takes I/O (the form's EDS, OCSP) is
checked before the inbox's transaction (``check``), and the verdict travels with the message; the application is
then opened in that transaction (``receive``), accepted or NOT_ACCEPTED with the reason — never lost, never twice."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.mio_workstation.usecases.form_signature import FormSignatures
from services.mio_workstation.usecases.opening import NewApplication, Opening
from shared.employment.attachments import decode, mismatches
from shared.employment.forms import form_errors, kinds_of
from shared.employment.regulations import Regulation, RegulationBook
from shared.errors import MeshError
from shared.mesh.contracts import ApplicationRequest
from shared.mesh.member import Incoming

CON = "con"


def channel_of(sender: str) -> str:
    """The regulation's channel of an application that came through the gateway from ``sender``: the portal's or
    ИС ЦОН's — or a system standing in for one, whose member id is theirs with a suffix (``portal.my-soap``: a
    tester's own portal on ШЭП's SOAP channels, docs/soap.md)."""
    for member, channel in (("portal", "portal"), (CON, "con")):
        if sender == member or sender.startswith(f"{member}."):
            return channel
    return "office"


def copy_problems(form: dict[str, Any], request: ApplicationRequest, *, content_required: bool) -> list[str]:
    """How the electronic copies that came with an application differ from the documents its signed form names
    (each a reason for not accepting it); copies that cannot be read are one such reason."""
    try:
        copies = decode([a.model_dump(by_alias=True) for a in request.attachments])
    except MeshError as exc:
        return [exc.message]
    return [problem for _, problem in mismatches(form.get("documents") or [], copies,
                                                  content_required=content_required)]


def _request_of(incoming: Incoming) -> ApplicationRequest:
    request = incoming.payload
    assert isinstance(request, ApplicationRequest)
    return request


class Receiving:
    def __init__(self, *, book: RegulationBook, signatures: FormSignatures, opening: Opening) -> None:
        self._book = book
        self._signatures = signatures
        self._opening = opening

    @staticmethod
    def _form_refusal(regulation: Regulation | None, *, channel: str, service_id: str, form: dict[str, Any],
                      request: ApplicationRequest) -> str | None:
        """What is wrong with the application whatever its EDS (no I/O): each a reason for not accepting it."""
        if regulation is None:
            return f"Услуга не оказывается в этом районе через канал «{channel}»"
        if request.form.service_id != service_id:
            return "Форма заявления составлена для другой услуги"
        if request.signed_by not in regulation.signers():
            return (f"Заявление через канал «{channel}» подписывает {' или '.join(regulation.signers())}, "
                    f"а не {request.signed_by}")
        if errors := form_errors(form, referral_kinds=kinds_of(regulation)):
            return "Форма заявления не соответствует требованиям: " + "; ".join(
                f"{e['field']}: {e['problem']}" for e in errors)
        if problems := copy_problems(form, request, content_required=channel != "office"):
            return "Электронные копии документов не соответствуют подписанному заявлению: " + "; ".join(problems)
        return None

    async def check(self, incoming: Incoming, *, district: str) -> Incoming:
        """Before the intake transaction (it takes I/O: OCSP): does the district take this service through this
        channel, and is the EDS on the form valid and the signer's? The answer travels with the message."""
        env, request = incoming.envelope, _request_of(incoming)
        channel = channel_of(env.sender)
        regulation = self._book.find(district=district, service=env.service_id, channel=channel)
        form = dict(env.data["form"])
        refusal = self._form_refusal(regulation, channel=channel, service_id=env.service_id, form=form,
                                     request=request)
        if refusal is None:
            refusal = await self._signatures.refusal(form=form, signature=request.form_signature,
                                                     signed_by=request.signed_by, district=district, staff=None,
                                                     stapled=request.stapled_ocsp())
        return incoming.with_prepared(refusal=refusal)

    async def receive(self, session: AsyncSession, incoming: Incoming, *, district: str) -> None:
        """The application opened in the inbox's transaction (checked by ``check``)."""
        env, request = incoming.envelope, _request_of(incoming)
        channel = channel_of(env.sender)
        await self._opening.open(session, NewApplication(
            district=district, regulation=self._book.find(district=district, service=env.service_id, channel=channel),
            service_id=env.service_id, channel=channel,
            form=dict(env.data["form"]),  # exactly as signed: the signature covers these bytes
            signature=request.form_signature, signed_by=request.signed_by, origin=env.sender,
            correlation_id=env.correlation_id, request_message_id=str(env.message_id),
            refusal=incoming.prepared["refusal"], copies=request.attachments))
