"""What verifying a result document means (services/portal/verification.py, issue 17): the signature's own time
(CMS signingTime, written on the mesh clock), the issuer the document names against what the mesh knows, the signer
against the issuer and the regulation's role, and revocation looked up after the certificate's end.

Signatures and certificates here are real (a НУЦ CA on a temporary database, its OCSP answering in process); the
judgements are pure and get fakes: the gateway's member list as a list of dicts, certificates as CertificateInfo.
"""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.nuc_pki.domain import BadKind, PersonName
from services.nuc_pki.handlers import EXPIRED_CERTS_ON_CRL
from services.portal.verification import (
    Entitled,
    Verdict,
    issuing_bodies,
    judge_issuer,
    judge_signer,
    judge_signing_time,
)
from shared.clock import KZ_TZ
from shared.employment.regulations import RegulationBook
from shared.errors import MeshError
from shared.pki.cert_check import CertFailure, Expectation, voids_signature
from shared.pki.cert_profile import CertificateInfo, Holder, Usage
from shared.pki.ocsp_client import RevocationState, RevocationStatus
from shared.pki.signing import (
    SignatureError,
    SignerIdentity,
    refuse_signing_time,
    sign_detached,
    sign_json,
    verify_detached,
    verify_json,
)
from tests.unit.conftest import Pki

BOOK = RegulationBook.load()
MIO_BIN, CON_BIN, STRANGER_BIN = "110640080081", "140340020022", "000740000728"
MEMBERS = [  # as the gateway's GET /members lists them (the seed registry's, trimmed)
    {"id": "mio.mamlyut", "kind": "mio", "organisation": "ГУ «Отдел … Мамлютского района» (симулятор)",
     "bin": MIO_BIN, "district": "mamlyut"},
    {"id": "mio.almaty", "kind": "mio", "organisation": "КГУ «Управление … Алматы» (симулятор)", "bin": "090140090094",
     "district": "almaty"},
    {"id": "con", "kind": "con", "organisation": "НАО «Государственная корпорация …» (симулятор)", "bin": CON_BIN},
    {"id": "portal", "kind": "portal", "organisation": "АО «НИТ» (симулятор)", "bin": "040540010011"},
]
BODIES = issuing_bodies(MEMBERS)
CERTIFICATE = BOOK.all["mamlyut.unemployed-certificate.office"]
ALMATY_CON = BOOK.all["almaty.job-seeker-registration.con"]
SIGNER_IIN = "800101300005"


def _content(**change: Any) -> dict[str, Any]:
    """A Mamlyut certificate as ИС МИО drafts it (the fields verification reads)."""
    return {"documentKind": "certificate", "date": "2026-03-10", "issuer": CERTIFICATE.issuer, "issuerBin": MIO_BIN,
            "regulationId": CERTIFICATE.id, "service": CERTIFICATE.title, "result": "approved",
            "signer": {"name": "Нурпеисов Жанар", "position": "Сотрудник МИО", "iin": SIGNER_IIN}} | change


def _official(**change: Any) -> CertificateInfo:
    values: dict[str, Any] = {
        "serial": "1f", "holder": Holder.EMPLOYEE, "common_name": "НУРПЕИСОВ ЖАНАР", "usage": Usage.SIGN,
        "not_before": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "not_after": dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
        "iin": SIGNER_IIN, "bin": MIO_BIN, "organisation": "ГУ «Отдел»", "roles": ("signer",)}
    return CertificateInfo(**(values | change))


def _codes(verdict: Verdict) -> list[str]:
    return [f["code"] for f in verdict.failures]


# ---- the signature's own time ------------------------------------------------------------------------------------
async def test_the_signing_time_is_the_one_the_signer_means_and_openssl_still_verifies_it(pki: Pki, tmp_path: Path):
    """The mesh's clock, not the machine's: a signature made at a mesh time days ahead carries that time (UTCTime),
    one after 2049 a GeneralizedTime — and `openssl cms -verify` verifies what the mesh writes, RSA and EC alike."""
    content = b'{"a":1}'
    ahead = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=12, hours=3)
    rsa_signing, _ = await pki.person(bin_=MIO_BIN, role="signer")  # НУЦ makes an RSA-2048 key
    ec_key = ec.generate_private_key(ec.SECP256R1())  # a key of the holder's own, certified from its public key
    ec_signing, _ = await pki.ca.issue_person_pair(
        iin="900101400003", person=PersonName(surname="Тестов", name="Тест"), organisation="ГУ «Отдел»",
        bin_=MIO_BIN, role="signer", email=None, signing_key=ec_key.public_key(), auth_key=None)
    identities = {"rsa": pki.identity(rsa_signing),
                  "ec": SignerIdentity(key=ec_key, certificate=ec_signing.certificate, chain=tuple(pki.ca.chain()))}
    for kind, identity in identities.items():
        der = sign_detached(content=content, signer=identity, at=ahead, include_chain=True)
        assert verify_detached(content=content, signature_b64=base64.b64encode(der).decode()).signing_time == ahead
        later = dt.datetime(2051, 5, 1, 8, 30, tzinfo=dt.UTC)
        assert verify_json(value={"a": 1}, signature_b64=sign_json(value={"a": 1}, signer=identity, at=later)
                           ).signing_time == later
        openssl = shutil.which("openssl")
        assert openssl, "openssl is required (make test installs it)"
        (tmp_path / "content.bin").write_bytes(content)
        (tmp_path / "signature.p7s").write_bytes(der)
        (tmp_path / "chain.pem").write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM)
                                                      for c in pki.ca.chain()))
        done = subprocess.run([openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", "signature.p7s",
                               "-content", "content.bin", "-CAfile", "chain.pem", "-purpose", "any", "-out",
                               "/dev/null"], cwd=tmp_path, capture_output=True, text=True, check=False)
        assert done.returncode == 0, (kind, done.stderr)
        printed = subprocess.run([openssl, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "signature.p7s"],
                                 cwd=tmp_path, capture_output=True, text=True, check=True).stdout
        assert f"UTCTIME:{ahead:%b} {ahead.day:2d} {ahead:%H:%M:%S %Y} GMT" in printed, printed


def test_a_missing_future_or_earlier_than_the_date_signing_time_is_named():
    now = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    cases = {
        "MISSING": (None, _content()),
        "IN_FUTURE": (now + dt.timedelta(hours=1), _content()),
        "DATED_AFTER": (dt.datetime(2026, 3, 9, 18, 59, tzinfo=dt.UTC), _content()),  # 23:59 on the 9th in Astana
        "NO_DATE": (now, _content(date="10.03.2026")),
    }
    verdicts = {}
    for name, (signed_at, content) in cases.items():
        verdicts[name] = Verdict()
        judge_signing_time(content, signed_at, now=now, verdict=verdicts[name])
    assert {name: (_codes(v), v.checks["signingTime"]) for name, v in verdicts.items()} == {
        "MISSING": (["SIGNING_TIME_MISSING"], "MISSING"), "IN_FUTURE": (["SIGNING_TIME_IN_FUTURE"], "FAILED"),
        "DATED_AFTER": (["DOCUMENT_DATED_AFTER_SIGNING"], "FAILED"), "NO_DATE": (["DOCUMENT_DATE_MISSING"], "FAILED")}
    fine = Verdict()  # 00:30 on the 10th in Astana is still the 9th in UTC: the Kazakh day counts
    judge_signing_time(_content(), dt.datetime(2026, 3, 9, 19, 30, tzinfo=dt.UTC), now=now, verdict=fine)
    assert (fine.failures, fine.checks["signingTime"]) == ([], "OK")


# ---- the issuer, as the mesh knows it -------------------------------------------------------------------------------
def test_the_issuer_is_a_body_the_mesh_knows_for_that_regulation():
    def judged(content: dict[str, Any]) -> tuple[Entitled | None, list[str], str]:
        verdict = Verdict()
        entitled = judge_issuer(content, bodies=BODIES, book=BOOK, verdict=verdict)
        return entitled, _codes(verdict), verdict.checks["issuer"]

    assert judged(_content()) == (Entitled(bin=MIO_BIN, role="signer"), [], "OK"), "the file's certificateRole"
    formed = {"title": ALMATY_CON.centre.forms_result, "service": ALMATY_CON.title, "date": "2026-03-10"}  # type: ignore[union-attr]
    assert judged(formed | {"issuerBin": CON_BIN, "regulationId": ALMATY_CON.id}) == (
        Entitled(bin=CON_BIN, role="operator"), [], "OK"), "004 п. 10: the State Corporation forms it"
    assert judged({k: v for k, v in _content().items() if k != "issuerBin"})[1:] == (["ISSUER_NOT_NAMED"], "NOT_NAMED")
    assert judged(_content(regulationId="nowhere.thing.office"))[1:] == (["REGULATION_UNKNOWN"], "UNKNOWN")
    assert judged(_content(issuerBin=STRANGER_BIN))[1:] == (["ISSUER_UNKNOWN"], "UNKNOWN"), "a forger's own BIN"
    assert judged(_content(issuerBin="040540010011"))[1:] == (["ISSUER_UNKNOWN"], "UNKNOWN"), "the portal issues none"
    assert judged(_content(issuerBin="090140090094"))[1:] == (["ISSUER_NOT_FOR_REGULATION"], "NOT_ENTITLED"), \
        "Almaty's МИО does not issue Mamlyut's certificates"
    assert judged(_content(issuerBin=CON_BIN))[1:] == (["ISSUER_NOT_FOR_REGULATION"], "NOT_ENTITLED"), \
        "the State Corporation forms no certificate"
    assert judged(_content(documentKind="referral"))[1:] == (["REGULATION_MISMATCH"], "MISMATCH")
    assert judged(_content(service="Регистрация лиц, ищущих работу"))[1:] == (["REGULATION_MISMATCH"], "MISMATCH")
    assert judged(_content(documentKind="refusal"))[0] is not None, "the refusal letter is a result too"


# ---- the signer, against the issuer, the role and the content --------------------------------------------------------
def test_the_signer_is_the_issuers_official_of_the_entitled_role_named_in_the_content():
    entitled = Entitled(bin=MIO_BIN, role="signer")

    def judged(info: CertificateInfo, content: dict[str, Any] | None = None) -> list[str]:
        verdict = Verdict()
        judge_signer(content or _content(), info, entitled=entitled, verdict=verdict)
        assert verdict.checks["signer"] == ("FAILED" if verdict.failures else "OK")
        return _codes(verdict)

    assert judged(_official()) == []
    assert judged(_official(common_name="нурпеисов  жанар")) == [], "case and spaces are not another name"
    assert judged(_official(bin=STRANGER_BIN, organisation="ТОО «Печать»", roles=("head",))) == [
        "SIGNER_NOT_OF_ISSUER", "SIGNER_ROLE_NOT_ENTITLED"], "another organisation's representative"
    assert judged(_official(bin=CON_BIN, roles=("operator",))) == ["SIGNER_NOT_OF_ISSUER", "SIGNER_ROLE_NOT_ENTITLED"]
    assert judged(_official(roles=("employee",))) == ["SIGNER_ROLE_NOT_ENTITLED"], "a clerk of the МИО itself"
    assert judged(_official(holder=Holder.INDIVIDUAL, bin=None, roles=())) == ["SIGNER_NOT_AN_OFFICIAL"]
    assert judged(_official(iin="900101400003")) == ["SIGNER_MISMATCH"]
    assert judged(_official(common_name="ОСПАНОВ ДАМИР")) == ["SIGNER_MISMATCH"]
    assert judged(_official(), _content(signer="Нурпеисов Жанар")) == ["SIGNER_NOT_NAMED"]


# ---- revocation, judged at the signing time, after the certificate's end too ----------------------------------------
def test_which_revocations_void_a_signature_made_before_them():
    signed = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)

    def revoked(reason: str | None, days: int) -> RevocationStatus:
        return RevocationStatus(state=RevocationState.REVOKED, reason=reason,
                                revoked_at=signed + dt.timedelta(days=days))

    for reason in ("keyCompromise", "unspecified", "cACompromise", "aACompromise", "certificateHold", None):
        assert voids_signature(revoked(reason, 30), signed_at=signed), reason
    for reason in ("affiliationChanged", "superseded", "cessationOfOperation", "privilegeWithdrawn"):
        assert not voids_signature(revoked(reason, 30), signed_at=signed), reason
        assert voids_signature(revoked(reason, -1), signed_at=signed), f"{reason}, before it was signed"


async def test_a_revoked_certificate_is_known_as_revoked_after_its_end_and_judged_at_the_signing_time(pki: Pki):
    """НУЦ's OCSP answers from its records for an expired certificate, and its CRL keeps the entry
    (ExpiredCertsOnCRL): a signature made while the certificate was valid is judged at that time, and a revocation
    for key compromise voids it even after the certificate's end; an official's leaving (affiliationChanged) after
    the signature leaves it valid, before it does not."""
    compromised, _ = await pki.person(bin_=MIO_BIN, role="signer")
    left, _ = await pki.person(iin="900101400003", bin_=MIO_BIN, role="signer")
    signed_at = pki.clock.now()
    verifier = pki.verifier(max_age_s=0.001)
    await pki.ca.revoke(serial=compromised.record.serial, reason="keyCompromise")
    pki.clock.apply(pki.clock.advanced_by(seconds=3 * 86400))
    await pki.ca.revoke(serial=left.record.serial, reason="affiliationChanged")
    pki.clock.apply(pki.clock.advanced_by(seconds=400 * 86400))  # past both certificates' end
    assert pki.clock.now() > compromised.certificate.not_valid_after_utc

    now = await verifier.check(certificate=compromised.certificate, expect=Expectation())
    assert now.failure is CertFailure.EXPIRED, "judged now, it has simply expired"
    at_signing = await verifier.check(certificate=compromised.certificate, expect=Expectation(), at=signed_at)
    assert (at_signing.ok, at_signing.failure) == (False, CertFailure.REVOKED)
    assert at_signing.revocation is not None
    assert at_signing.revocation.reason == "keyCompromise"
    kept = await verifier.check(certificate=left.certificate, expect=Expectation(), at=signed_at)
    assert kept.ok, kept.message
    assert kept.revocation is not None
    assert kept.revocation.state is RevocationState.REVOKED, "the answer still says it was revoked, later"
    after = await verifier.check(certificate=left.certificate, expect=Expectation(),
                                 at=signed_at + dt.timedelta(days=5))
    assert after.failure is CertFailure.REVOKED, "signed after the official left"
    too_late = await verifier.check(certificate=left.certificate, expect=Expectation(),
                                    at=left.certificate.not_valid_after_utc + dt.timedelta(days=1))
    assert too_late.failure is CertFailure.EXPIRED, "signed after the certificate's end"

    crl = await pki.ca.crl()
    assert {r.serial_number for r in crl} >= {compromised.certificate.serial_number, left.certificate.serial_number}
    kept_since = crl.extensions.get_extension_for_oid(EXPIRED_CERTS_ON_CRL)
    assert not kept_since.critical
    assert isinstance(kept_since.value, x509.UnrecognizedExtension)
    assert kept_since.value.value.startswith(b"\x18"), "a GeneralizedTime"
    issuing = pki.ca.chain()[0]
    assert kept_since.value.value[2:].decode() == issuing.not_valid_before_utc.strftime("%Y%m%d%H%M%SZ")


async def test_an_expired_certificate_cannot_sign_today_whatever_date_the_content_bears(pki: Pki):
    """The issue's back-dating: a certificate that expired yesterday signs now (the mesh clock writes signingTime)
    a content dated within its validity — judged at the signing time, it had expired."""
    expired, _ = await pki.person(bin_=MIO_BIN, role="signer", defect=BadKind.EXPIRED)
    day = (expired.certificate.not_valid_after_utc - dt.timedelta(days=3)).astimezone(KZ_TZ).date().isoformat()
    signature = sign_json(value=_content(date=day), signer=pki.identity(expired), at=pki.clock.now())
    signed = verify_json(value=_content(date=day), signature_b64=signature)
    assert signed.signing_time is not None
    result = await pki.verifier().check(certificate=expired.certificate, expect=Expectation(), at=signed.signing_time)
    assert result.failure is CertFailure.EXPIRED


async def test_a_signing_time_without_its_zone_is_named_malformed_not_a_crash(pki: Pki, monkeypatch):
    """A GeneralizedTime without «Z» (``20260310120000``) decodes to a time without a zone, which compared with the
    mesh clock raised TypeError: a 500 for anyone with a self-made key at the anonymous /documents/verify, and at
    the МИО's sign step and ЦОН's result. RFC 5652 §11.3 wants UTC: it is ``SIGNING_TIME_MALFORMED``, by name."""
    import shared.pki.signing as signing  # the one place the attribute is written: an attacker writes it as they like

    monkeypatch.setattr(signing, "_time_der", lambda at: signing._der(0x18, b"20260310120000"))
    identity = pki.identity((await pki.person(bin_=MIO_BIN, role="signer"))[0])
    signature = sign_json(value={"a": 1}, signer=identity)
    monkeypatch.undo()
    verified = verify_json(value={"a": 1}, signature_b64=signature)
    with pytest.raises(SignatureError) as malformed:
        _ = verified.signing_time
    assert malformed.value.code == "SIGNING_TIME_MALFORMED"
    with pytest.raises(MeshError) as refused:
        refuse_signing_time(verified, now=dt.datetime.now(dt.UTC), what="the result's EDS")
    assert (refused.value.status, refused.value.code) == (422, "SIGNING_TIME_MALFORMED")
