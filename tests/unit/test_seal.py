"""The gateway's seal: a recipient takes a delivery only when the gateway signed exactly these bytes, for
exactly this recipient, under a log record — and only the gateway's own system certificate can seal."""

from __future__ import annotations

import pytest

from shared.mesh.failures import PermanentFailure
from shared.mesh.seal import H_SEAL, H_SEAL_SEQ, NOT_SEALED, SEAL_INVALID, check_seal, seal_headers

BIN = "040540010011"
BODY = b'{"messageId": "m-1", "data": {"status": "COMPLETED"}}'


async def _system(pki, member_id: str):
    issued = await pki.ca.issue_system(member_id=member_id, organisation="АО «НИТ»", bin_=BIN, public_key=None)
    return pki.identity(issued)


async def test_a_delivery_sealed_by_the_gateway_for_its_recipient_is_taken(pki):
    gateway = await _system(pki, "shep")
    headers = seal_headers(body=BODY, log_seq=41, recipient="portal", signer=gateway)
    seal = await check_seal(body=BODY, headers=headers, member_id="portal", verifier=pki.verifier())
    assert (seal.log_seq, seal.recipient) == (41, "portal")


@pytest.mark.parametrize(("change", "code"), [
    ("no seal", NOT_SEALED),
    ("another body", SEAL_INVALID),
    ("another recipient", SEAL_INVALID),
    ("another log record", SEAL_INVALID),
    ("sealed by another member", SEAL_INVALID),
])
async def test_anything_else_is_refused_with_its_reason(pki, change, code):
    gateway, other = await _system(pki, "shep"), await _system(pki, "mio.almaty")
    body, member, headers = BODY, "portal", seal_headers(body=BODY, log_seq=41, recipient="portal", signer=gateway)
    match change:
        case "no seal":
            headers = {}
        case "another body":
            body = BODY.replace(b"COMPLETED", b"REFUSED")
        case "another recipient":
            member = "con"
        case "another log record":
            headers = {**headers, H_SEAL_SEQ: 42}
        case "sealed by another member":
            headers = seal_headers(body=BODY, log_seq=41, recipient="portal", signer=other)
    with pytest.raises(PermanentFailure) as refused:
        await check_seal(body=body, headers=headers, member_id=member, verifier=pki.verifier())
    assert refused.value.code == code
    assert H_SEAL not in refused.value.message
