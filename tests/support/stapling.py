"""What a sender's outbox holds for the gateway, opened as the gateway opens it, and the OCSP answer stapled to an
application (the use-case tests of the portal and ИС ЦОН)."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509 import ocsp
from sqlmodel import select

from shared.db import Sessions
from shared.mesh.contracts import ApplicationRequest
from shared.mesh.outbox import OutboxMessage
from shared.mesh.payload_crypto import Keyring, open_wire, read_wire


async def sent_application(sessions: Sessions, gateway: Keyring) -> ApplicationRequest:
    """The one application in the outbox, opened as the gateway opens it."""
    async with sessions() as session:
        body = (await session.exec(select(OutboxMessage))).one().body
    return ApplicationRequest.model_validate(open_wire(read_wire(body), gateway).envelope.data)


def assert_stapled(sent: ApplicationRequest, certificate: x509.Certificate) -> None:
    """НУЦ's answer about the signer's certificate, as the sender's own check got it, goes with the form."""
    stapled = sent.stapled_ocsp()
    assert stapled is not None, "no OCSP answer stapled to the application"
    answer = ocsp.load_der_ocsp_response(stapled)
    assert (answer.serial_number, answer.certificate_status) == (certificate.serial_number, ocsp.OCSPCertStatus.GOOD)
