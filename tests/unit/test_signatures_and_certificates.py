"""The one signature format and the certificate checks, each failure with its own reason."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from services.nuc_pki.domain import BadKind
from services.nuc_pki.store import IssuedCertificate
from shared.clock import MeshClock
from shared.errors import MeshError
from shared.mesh.contracts import MAX_STAPLED_OCSP, ApplicationRequest
from shared.mesh.envelope import MessageType, parse_envelope, unsigned_envelope
from shared.pki import ocsp_client
from shared.pki.canonical import canonical_bytes, signed_content
from shared.pki.cert_check import CertFailure, Expectation, is_transient_refusal, refusal_code
from shared.pki.cert_profile import Holder, Usage, describe_certificate
from shared.pki.signing import SignatureError, SignerIdentity, sign_json, sign_wire, verify_detached, verify_json

IIN = "850701300007"
OTHER_IIN = "900101400003"
BIN = "940140000385"


def test_canonical_form_is_rfc8785():
    assert canonical_bytes({"b": 1, "a": [1.0, "ж"], "c": None}) == '{"a":[1,"ж"],"b":1,"c":null}'.encode()
    with pytest.raises(MeshError) as caught:
        canonical_bytes({"x": float("nan")})
    assert caught.value.code == "CANONICAL_FORM_IMPOSSIBLE"


async def test_document_signature_round_trip_and_tamper(pki):
    signing, _ = await pki.person()
    identity = pki.identity(signing)
    form = {"iin": IIN, "period": {"from": "2026-01-01", "to": "2026-06-30"}}
    signature = sign_json(value=form, signer=identity)
    assert verify_json(value=form, signature_b64=signature).signer == signing.certificate
    with pytest.raises(SignatureError) as caught:
        verify_json(value={**form, "iin": OTHER_IIN}, signature_b64=signature)
    assert caught.value.code == "SIGNATURE_CONTENT_MISMATCH"


@pytest.mark.parametrize(("signature", "code"), [
    ("%%%not base64%%%", "SIGNATURE_MALFORMED"),
    (base64.b64encode(b"\x30\x03\x02\x01\x01").decode(), "SIGNATURE_MALFORMED"),
])
def test_malformed_signatures_are_named(signature, code):
    with pytest.raises(SignatureError) as caught:
        verify_detached(content=b"{}", signature_b64=signature)
    assert caught.value.code == code


async def test_a_signature_by_another_key_under_the_same_certificate_is_invalid(pki):
    signing, auth = await pki.person()
    forged = SignerIdentity(key=auth.key, certificate=signing.certificate)  # key and certificate do not match
    with pytest.raises(SignatureError) as caught:
        verify_json(value={"a": 1}, signature_b64=sign_json(value={"a": 1}, signer=forged))
    assert caught.value.code == "SIGNATURE_INVALID"


async def test_good_signing_certificate_passes_every_check(pki):
    signing, _ = await pki.person()
    result = await pki.verifier().check(certificate=signing.certificate,
                                        expect=Expectation(usage=Usage.SIGN, iin=IIN, holder=Holder.INDIVIDUAL))
    assert result.ok, result.message
    assert result.revocation is not None
    assert result.revocation.state.value == "GOOD"


@pytest.mark.parametrize(("defect", "failure"), [
    (BadKind.EXPIRED, CertFailure.EXPIRED),
    (BadKind.NOT_YET_VALID, CertFailure.NOT_YET_VALID),
    (BadKind.WRONG_USAGE, CertFailure.WRONG_KEY_USAGE),
    (BadKind.UNTRUSTED, CertFailure.UNTRUSTED_CHAIN),
])
async def test_faulty_certificates_fail_with_their_reason(pki, defect, failure):
    signing, _ = await pki.person(defect=defect)
    result = await pki.verifier().check(certificate=signing.certificate, expect=Expectation(usage=Usage.SIGN))
    assert result.failure is failure
    assert result.message


async def test_authentication_certificate_is_not_a_signing_certificate(pki):
    _, auth = await pki.person()
    result = await pki.verifier().check(certificate=auth.certificate, expect=Expectation(usage=Usage.SIGN))
    assert result.failure is CertFailure.WRONG_KEY_USAGE
    assert describe_certificate(auth.certificate).usage is Usage.AUTH


async def test_iin_and_bin_must_match(pki):
    signing, _ = await pki.person(bin_=BIN, role="head")
    verifier = pki.verifier()
    assert (await verifier.check(certificate=signing.certificate,
                                 expect=Expectation(iin=OTHER_IIN))).failure is CertFailure.IIN_MISMATCH
    assert (await verifier.check(certificate=signing.certificate,
                                 expect=Expectation(bin="990140004654"))).failure is CertFailure.BIN_MISMATCH
    ok = await verifier.check(certificate=signing.certificate,
                              expect=Expectation(iin=IIN, bin=BIN, role="head", holder=Holder.EMPLOYEE))
    assert ok.ok, ok.message
    assert (await verifier.check(certificate=signing.certificate,
                                 expect=Expectation(role="hr"))).failure is CertFailure.ROLE_MISSING


async def test_revocation_is_seen_once_the_cached_answer_ages_on_the_mesh_clock(pki):
    signing, _ = await pki.person()
    verifier = pki.verifier(max_age_s=60)
    assert (await verifier.check(certificate=signing.certificate, expect=Expectation())).ok
    await pki.ca.revoke(serial=signing.record.serial, reason="keyCompromise")
    cached = await verifier.check(certificate=signing.certificate, expect=Expectation())
    assert cached.ok, "within its freshness limit the cached OCSP answer is reused"
    pki.clock.apply(pki.clock.advanced_by(seconds=61))
    revoked = await verifier.check(certificate=signing.certificate, expect=Expectation())
    assert revoked.failure is CertFailure.REVOKED
    assert revoked.revocation is not None
    assert revoked.revocation.reason == "keyCompromise"
    assert refusal_code(revoked) == "Client.CertificateRevoked"


async def test_validity_is_judged_on_the_mesh_clock(pki):
    signing, _ = await pki.person()
    pki.clock.apply(pki.clock.advanced_by(seconds=400 * 86400))
    result = await pki.verifier().check(certificate=signing.certificate, expect=Expectation())
    assert result.failure is CertFailure.EXPIRED


async def test_a_certificate_the_ca_does_not_know_has_unknown_status(pki):
    signing, _ = await pki.person()
    async with pki.ca._sessions() as session, session.begin():
        await session.delete(await session.get(IssuedCertificate, signing.record.serial))
    result = await pki.verifier().check(certificate=signing.certificate, expect=Expectation())
    assert result.failure is CertFailure.STATUS_UNKNOWN


async def test_a_clock_that_has_not_heard_a_jump_yet_is_waited_for_then_named(pki):
    """The verifier heard a jump of a day that НУЦ has not: НУЦ's OCSP answers are "stale" on the verifier's clock.
    A check waits for the clocks to agree (they do within milliseconds of the broadcast) instead of failing; if
    they never do, the failure is CLOCK_SKEW — transient, never "unknown certificate"."""
    signing, _ = await pki.person()
    ahead = MeshClock()
    ahead.apply(pki.clock.advanced_by(seconds=86400))

    async def nuc_hears_the_jump() -> None:
        await asyncio.sleep(0.2)
        pki.clock.apply(ahead.state)

    hearing = asyncio.create_task(nuc_hears_the_jump())
    assert (await pki.verifier(clock=ahead).check(certificate=signing.certificate, expect=Expectation())).ok
    await hearing

    behind = MeshClock()  # a verifier that never hears it
    never = await pki.verifier(clock=behind, skew_wait_s=0.2).check(certificate=signing.certificate,
                                                                    expect=Expectation())
    assert never.failure is CertFailure.CLOCK_SKEW
    assert is_transient_refusal(refusal_code(never))
    unknown_code = refusal_code(await _unknown_certificate_check(pki))
    assert not is_transient_refusal(unknown_code), "an unknown certificate is permanent"


async def _unknown_certificate_check(pki):
    signing, _ = await pki.person(iin="900101300007")
    async with pki.ca._sessions() as session, session.begin():
        await session.delete(await session.get(IssuedCertificate, signing.record.serial))
    return await pki.verifier().check(certificate=signing.certificate, expect=Expectation())


async def test_an_unreachable_responder_is_reported_as_such(pki):
    signing, _ = await pki.person()
    pki.responder_up = False
    result = await pki.verifier().check(certificate=signing.certificate, expect=Expectation())
    assert result.failure is CertFailure.RESPONDER_UNREACHABLE
    assert refusal_code(result) == "Server.OcspResponderUnreachable"


async def test_envelope_signature_covers_every_field(pki):
    signing, _ = await pki.person()
    identity = pki.identity(signing)
    wire = sign_wire(wire=unsigned_envelope(service_id="test.svc", message_type=MessageType.REQUEST, sender="portal",
                                            data={"x": 1}, message_date=pki.clock.now()), signer=identity)
    parsed = parse_envelope(__import__("orjson").dumps(wire))
    assert verify_detached(content=parsed.signed_bytes(), signature_b64=wire["signature"])
    for field, value in [("recipient", "someone"), ("serviceId", "test.other"), ("correlationId", "other")]:
        changed = {**wire, field: value}
        with pytest.raises(SignatureError):
            verify_detached(content=signed_content(changed), signature_b64=wire["signature"])


async def test_pkcs12_round_trip_with_password(pki):
    signing, _ = await pki.person()
    blob = pki.ca.pkcs12(signing, password="secret-123")
    identity = SignerIdentity.from_pkcs12(data=blob, password="secret-123")
    assert identity.certificate == signing.certificate
    assert len(identity.chain) == 2
    with pytest.raises(MeshError) as caught:
        SignerIdentity.from_pkcs12(data=blob, password="wrong")
    assert caught.value.code == "PKCS12_UNREADABLE"
    assert identity.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


async def test_signatures_made_by_openssl_verify_here(pki, tmp_path):
    """Interoperability the other way round: a stock tool signs (RSA, with its own signed attributes)."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is required"
    signing, _ = await pki.person()
    assert signing.key is not None
    (tmp_path / "key.pem").write_bytes(signing.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "cert.pem").write_bytes(signing.certificate.public_bytes(serialization.Encoding.PEM))
    content = canonical_bytes({"form": "заявление", "iin": IIN})
    (tmp_path / "content.json").write_bytes(content)
    subprocess.run([openssl, "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER", "-signer", "cert.pem",
                    "-inkey", "key.pem", "-in", "content.json", "-out", "sig.der"], cwd=tmp_path, check=True)
    signature = base64.b64encode((tmp_path / "sig.der").read_bytes()).decode()
    verified = verify_detached(content=content, signature_b64=signature)
    assert verified.signer == signing.certificate
    assert verified.signing_time is not None
    with pytest.raises(SignatureError) as caught:
        verify_detached(content=content + b" ", signature_b64=signature)
    assert caught.value.code == "SIGNATURE_CONTENT_MISMATCH"


def test_truncated_and_attached_signatures_are_malformed(pki):
    with pytest.raises(SignatureError) as caught:
        verify_detached(content=b"{}", signature_b64=base64.b64encode(b"\x30\x82\x01\x00\x06").decode())
    assert caught.value.code == "SIGNATURE_MALFORMED"


async def test_checks_without_revocation_do_not_ask_ocsp(pki):
    signing, _ = await pki.person()
    await pki.ca.revoke(serial=signing.record.serial, reason="keyCompromise")
    pki.responder_up = False
    verifier = pki.verifier()
    assert (await verifier.check(certificate=signing.certificate, expect=Expectation(), revocation=False)).ok
    assert (await verifier.check(certificate=signing.certificate, expect=Expectation())).failure is \
        CertFailure.RESPONDER_UNREACHABLE


async def test_the_ocsp_cache_keeps_a_bounded_number_of_answers_and_asks_again_for_one_it_let_go(pki, monkeypatch):
    """A citizen's certificate is asked about once; its answer is not kept for the life of the process (before:
    every answer ever given stayed). Letting one go only means asking НУЦ again: never a weaker check."""
    monkeypatch.setattr(ocsp_client, "ANSWERS_KEPT", 2)
    verifier = pki.verifier(max_age_s=60)
    first, second, third = [(await pki.person(iin=iin))[0] for iin in (IIN, OTHER_IIN, "010101500003")]
    for issued in (first, second, third):
        assert (await verifier.check(certificate=issued.certificate, expect=Expectation())).ok
    for issued in (first, third):
        await pki.ca.revoke(serial=issued.record.serial, reason="keyCompromise")
    assert (await verifier.check(certificate=first.certificate, expect=Expectation())).failure is CertFailure.REVOKED
    assert (await verifier.check(certificate=third.certificate, expect=Expectation())).ok, "kept: within its bound"
    assert len(verifier._ocsp._cache) <= 2


async def test_a_fresh_stapled_answer_is_relied_on_without_asking_and_a_revocation_still_arrives_within_max_age(pki):
    """The portal checks a citizen's form signature with НУЦ and passes НУЦ's signed answer on with the form; ИС МИО
    relies on it (no second OCSP round trip for the same certificate) only while it is no older than its own OCSP
    max age — the bound a cached answer has — so a certificate revoked meanwhile is refused no later than before."""
    signing, _ = await pki.person()
    first = await pki.verifier(max_age_s=60).check(certificate=signing.certificate, expect=Expectation())
    assert first.ok
    assert first.revocation is not None
    assert first.revocation.der is not None
    staple = first.revocation.der
    await pki.ca.revoke(serial=signing.record.serial, reason="keyCompromise")
    pki.responder_up = False  # whatever a check below gets, it did not get from НУЦ
    relied = await pki.verifier(max_age_s=60).check(certificate=signing.certificate, expect=Expectation(),
                                                    stapled=staple)
    assert relied.ok, relied.message
    pki.responder_up = True
    pki.clock.apply(pki.clock.advanced_by(seconds=61))  # the staple is older than the max age now: НУЦ is asked
    late = await pki.verifier(max_age_s=60).check(certificate=signing.certificate, expect=Expectation(),
                                                  stapled=staple)
    assert late.failure is CertFailure.REVOKED


async def test_a_staple_that_is_forged_foreign_or_not_an_answer_is_ignored_and_nuc_asked(pki):
    """A staple comes with the message, so anyone may have written it: one that is not НУЦ's answer about this
    very certificate counts for nothing — the checker asks НУЦ, as it would without one."""
    signing, _ = await pki.person()
    other, _ = await pki.person(iin="900101300007")
    verifier = pki.verifier()
    foreign = (await verifier.check(certificate=other.certificate, expect=Expectation())).revocation
    assert foreign is not None
    assert foreign.der is not None
    tampered = bytearray(foreign.der)
    tampered[-5] ^= 0x01  # inside the responder's signature
    pki.responder_up = False
    for staple in (foreign.der, bytes(tampered), b"not an OCSP answer"):
        result = await pki.verifier().check(certificate=signing.certificate, expect=Expectation(), stapled=staple)
        assert result.failure is CertFailure.RESPONDER_UNREACHABLE, staple[:8]
    pki.responder_up = True
    await pki.ca.revoke(serial=signing.record.serial, reason="keyCompromise")
    revoked = (await pki.verifier().check(certificate=signing.certificate, expect=Expectation())).revocation
    assert revoked is not None
    assert revoked.der is not None
    pki.responder_up = False
    refused = await pki.verifier().check(certificate=signing.certificate, expect=Expectation(), stapled=revoked.der)
    assert refused.failure is CertFailure.REVOKED, "a stapled REVOKED answer is believed as well"


def test_a_staple_travels_as_base64_and_one_that_is_not_is_no_staple():
    """The wire form is the contract's: a staple that is not base64 is no staple (НУЦ is asked), not a refusal of
    the application — the sender wrote it, the citizen did not."""
    request = ApplicationRequest.model_validate({
        "form": {"serviceId": "x", "applicantIin": "900101300007", "surname": "Ахметов", "name": "Ерлан",
                 "filledAt": "2026-12-06T00:00:00+00:00"},
        "formSignature": "MIIB", "signedBy": "applicant"})
    assert (request.stapled(None), request.stapled_ocsp()) == (request, None)
    assert request.stapled(b"\x30\x03\x0a\x01\x00").stapled_ocsp() == b"\x30\x03\x0a\x01\x00"
    assert request.model_copy(update={"form_signature_ocsp": "not base64!"}).stapled_ocsp() is None
    with pytest.raises(ValidationError):
        ApplicationRequest.model_validate({**request.model_dump(by_alias=True),
                                           "formSignatureOcsp": "A" * (MAX_STAPLED_OCSP + 4)})
