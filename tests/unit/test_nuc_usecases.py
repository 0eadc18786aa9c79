"""НУЦ's use cases, each built alone on a SQLite file and a mesh clock the test moves — no app, no HTTP: the CA's
keys, issuance, faulty certificates, revocation, look-up, the OCSP responder and the CRLs. The CA's RSA keys are made
once for the module and shared by every test's use cases, each test on a database of its own holding them."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from sqlmodel import select

from services.nuc_pki.domain import BadKind, PersonName, crl_urls
from services.nuc_pki.settings import NucSettings
from services.nuc_pki.store import CaMaterial, IssuedCertificate
from services.nuc_pki.usecases.crl import EXPIRED_CERTS_ON_CRL, CrlPublisher
from services.nuc_pki.usecases.faulty import FaultyIssuance, FaultyWish
from services.nuc_pki.usecases.issuance import Issuance, Issued
from services.nuc_pki.usecases.keys import CaKeys
from services.nuc_pki.usecases.lookup import CertificateLookup
from services.nuc_pki.usecases.ocsp import OcspResponder
from services.nuc_pki.usecases.revocation import Revocation
from shared.clock import MeshClock
from shared.db import Sessions, create_tables, make_engine, make_sessions
from shared.errors import MeshError
from shared.mesh.settings import MeshSettings

IIN = "850701300007"
BIN = "940140000385"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Time:
    """The real time the mesh clock reads: moved by the test, never slept on."""

    def __init__(self) -> None:
        self.now = START.timestamp()

    def __call__(self) -> float:
        return self.now

    def skip(self, *, days: float) -> None:
        self.now += days * 86_400


def _settings(base: str = "http://nuc.test") -> NucSettings:
    return NucSettings(database_url="sqlite://", public_url=base, holder_keys="ec", leaf_validity_days=30,
                       mesh=MeshSettings(env="test", admin_token="unit-admin-token-0123",
                                         key_passphrase="unit-passphrase-0123"))


async def _database(path: Path) -> tuple[Sessions, object]:
    engine = make_engine(f"sqlite:///{path}")
    await create_tables(engine, models=[CaMaterial, IssuedCertificate])
    return make_sessions(engine), engine


@dataclass
class Ca:
    keys: CaKeys
    rows: list[dict]


@pytest.fixture(scope="module")
async def ca(tmp_path_factory: pytest.TempPathFactory) -> Ca:
    """The root and issuing CA as the first start makes them (RSA-2048, made and loaded once for the module)."""
    sessions, engine = await _database(tmp_path_factory.mktemp("nuc") / "first.db")
    keys = CaKeys(sessions=sessions, clock=MeshClock(real_time=Time()), settings=_settings())
    await keys.load_or_create()
    async with sessions() as session:
        rows = [r.model_dump() for r in (await session.exec(select(CaMaterial))).all()]
    await engine.dispose()  # type: ignore[attr-defined]
    return Ca(keys=keys, rows=rows)


@dataclass
class Nuc:
    sessions: Sessions
    time: Time
    clock: MeshClock
    keys: CaKeys
    issuance: Issuance
    faulty: FaultyIssuance
    revocation: Revocation
    lookup: CertificateLookup
    ocsp: OcspResponder
    crls: CrlPublisher

    async def person(self, *, iin: str = IIN, defect: BadKind | None = None) -> tuple[Issued, Issued]:
        return await self.issuance.issue_person_pair(
            iin=iin, person=PersonName(surname="Тестов", name="Тест"), organisation=None, bin_=None, role=None,
            email=None, signing_key=None, auth_key=None, defect=defect)

    async def count(self) -> int:
        async with self.sessions() as session:
            return len((await session.exec(select(IssuedCertificate))).all())

    async def status_of(self, certificate: x509.Certificate, *, nonce: bytes | None = None) -> ocsp.OCSPResponse:
        builder = ocsp.OCSPRequestBuilder().add_certificate(certificate, self.keys.chain()[0], hashes.SHA256())
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        answer, error = await self.ocsp.ocsp_response(builder.build().public_bytes(serialization.Encoding.DER))
        assert error is None
        return ocsp.load_der_ocsp_response(answer)


@pytest.fixture
async def nuc(tmp_path: Path, ca: Ca) -> AsyncIterator[Nuc]:
    sessions, engine = await _database(tmp_path / "nuc.db")
    async with sessions() as session, session.begin():
        session.add_all(CaMaterial(**row) for row in ca.rows)
    time = Time()
    clock = MeshClock(real_time=time)
    settings = _settings()
    keys = ca.keys  # loaded once: what they are does not depend on the database they were read from
    issuance = Issuance(sessions=sessions, clock=clock, settings=settings, keys=keys)
    yield Nuc(sessions=sessions, time=time, clock=clock, keys=keys, issuance=issuance,
              faulty=FaultyIssuance(issuance=issuance), revocation=Revocation(sessions=sessions, clock=clock),
              lookup=CertificateLookup(sessions=sessions, clock=clock),
              ocsp=OcspResponder(sessions=sessions, clock=clock, settings=settings, keys=keys),
              crls=CrlPublisher(sessions=sessions, clock=clock, settings=settings, keys=keys))
    await engine.dispose()  # type: ignore[attr-defined]


async def _refused(code: str, action) -> None:
    with pytest.raises(MeshError) as caught:
        await action
    assert caught.value.code == code


def _csr(key: ec.EllipticCurvePrivateKey) -> x509.CertificateSigningRequest:
    return x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "whoever")])).sign(key, hashes.SHA256())


# ---- the CA's keys ----------------------------------------------------------------------------------------------
async def test_nothing_is_issued_or_published_until_the_ca_is_loaded(tmp_path: Path):
    sessions, engine = await _database(tmp_path / "cold.db")
    keys = CaKeys(sessions=sessions, clock=MeshClock(real_time=Time()), settings=_settings())
    with pytest.raises(MeshError) as caught:
        keys.chain()
    assert caught.value.code == "CA_NOT_READY"
    crls = CrlPublisher(sessions=sessions, clock=MeshClock(real_time=Time()), settings=_settings(), keys=keys)
    await _refused("CA_NOT_READY", crls.crl())
    await engine.dispose()  # type: ignore[attr-defined]


async def test_a_restart_loads_the_same_ca_and_a_new_address_reissues_the_issuing_certificate(nuc: Nuc):
    again = CaKeys(sessions=nuc.sessions, clock=nuc.clock, settings=_settings())
    await again.load_or_create()
    assert [c.serial_number for c in again.chain()] == [c.serial_number for c in nuc.keys.chain()]
    moved = CaKeys(sessions=nuc.sessions, clock=nuc.clock, settings=_settings("http://nuc.elsewhere:8006"))
    await moved.load_or_create()
    issuing, root = moved.chain()
    assert crl_urls(issuing) == ["http://nuc.elsewhere:8006/ca/root.crl"], "it names where the root's CRL now is"
    assert issuing.public_key() == nuc.keys.chain()[0].public_key(), "same key: what it issued verifies as before"
    assert root.serial_number == nuc.keys.chain()[1].serial_number


# ---- issuance ---------------------------------------------------------------------------------------------------
async def test_a_person_gets_a_signing_and_an_authentication_certificate_named_by_the_profile(nuc: Nuc):
    signing, auth = await nuc.person()
    assert (signing.record.usage, auth.record.usage, signing.record.holder) == ("SIGN", "AUTH", "individual")
    assert signing.certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == f"IIN{IIN}"
    assert signing.record.not_before == START - dt.timedelta(minutes=1), "a minute back-dated for clock skew"
    assert signing.record.not_after == START + dt.timedelta(days=30)
    assert isinstance(signing.key, ec.EllipticCurvePrivateKey), "NUC_HOLDER_KEYS=ec"
    assert nuc.issuance.pkcs12(signing, password="secret-1")[:1] == b"\x30"


@pytest.mark.parametrize(("change", "code"), [
    ({"iin": "850701300008"}, "IIN_BAD_CHECK_DIGIT"),
    ({"bin_": "940140000386", "organisation": "ТОО"}, "BIN_BAD_CHECK_DIGIT"),
    ({"bin_": BIN, "organisation": "ТОО", "role": "king"}, "ROLE_UNKNOWN"),
    ({"person": PersonName(surname="Ж" * 40, name="Б")}, "NAME_TOO_LONG"),
])
async def test_a_refused_person_request_issues_nothing(nuc: Nuc, change, code):
    request = {"iin": IIN, "person": PersonName(surname="Тестов", name="Тест"), "organisation": None, "bin_": None,
               "role": None, "email": None, "signing_key": None, "auth_key": None, **change}
    await _refused(code, nuc.issuance.issue_person_pair(**request))
    assert await nuc.count() == 0


async def test_one_key_for_both_purposes_is_refused_and_csr_keys_are_the_requesters(nuc: Nuc):
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    same = {"iin": IIN, "person": PersonName(surname="Тестов", name="Тест"), "organisation": "ТОО «Тест»",
            "bin_": BIN, "role": "head", "email": None}
    await _refused("CSR_KEY_REUSED", nuc.issuance.issue_person_pair(
        **same, signing_key=_csr(key).public_key(), auth_key=_csr(key).public_key()))  # type: ignore[arg-type]
    assert await nuc.count() == 0
    signing, _ = await nuc.issuance.issue_person_pair(**same, signing_key=key.public_key(),
                                                      auth_key=other.public_key())
    assert (signing.certificate.public_key(), signing.key, signing.record.roles) == (key.public_key(), None, ["head"])
    await _refused("PKCS12_WITHOUT_KEY", _awaitable(lambda: nuc.issuance.pkcs12(signing, password="secret-1")))


async def _awaitable(call):
    return call()


async def test_a_systems_certificate_is_named_by_its_member_id(nuc: Nuc):
    issued = await nuc.issuance.issue_system(member_id="test.system", organisation="АО «НИТ»", bin_=BIN,
                                             public_key=None)
    assert (issued.record.holder, issued.record.member_id, issued.record.common_name) == \
        ("system", "test.system", "test.system")
    await _refused("BIN_LENGTH", nuc.issuance.issue_system(member_id="test.x", organisation="О", bin_="1",
                                                           public_key=None))


# ---- faulty certificates ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("wish", [
    FaultyWish(kind=BadKind.EXPIRED, holder="system", member_id="test.x"),
    FaultyWish(kind=BadKind.EXPIRED),
    FaultyWish(kind=BadKind.EXPIRED, holder="employee", iin=IIN, organisation="ТОО"),
])
async def test_a_faulty_certificate_needs_what_its_holder_is_named_by(nuc: Nuc, wish: FaultyWish):
    await _refused("REQUEST_INVALID", nuc.faulty.issue_faulty(wish))
    assert await nuc.count() == 0


async def test_faulty_certificates_are_faulty_as_asked(nuc: Nuc):
    expired, auth = await nuc.faulty.issue_faulty(FaultyWish(kind=BadKind.EXPIRED, iin=IIN))
    assert auth is not None
    assert expired.record.not_after < START
    system, none = await nuc.faulty.issue_faulty(FaultyWish(kind=BadKind.NOT_YET_VALID, holder="system",
                                                            member_id="test.x", organisation="О", bin=BIN))
    assert (none, system.record.defect) == (None, "not_yet_valid")
    assert system.record.not_before > START
    rogue, _ = await nuc.faulty.issue_faulty(FaultyWish(kind=BadKind.UNTRUSTED, iin=IIN))
    assert rogue.certificate.issuer == nuc.keys.chain()[0].subject, "a look-alike of the issuing CA…"
    with pytest.raises(Exception):  # noqa: B017, PT011 - cryptography's own error for a wrong signature
        rogue.certificate.verify_directly_issued_by(nuc.keys.chain()[0])  # … that did not sign it


# ---- revocation and look-up -------------------------------------------------------------------------------------
async def test_revocation_names_its_mistakes_and_the_first_reason_stands(nuc: Nuc):
    signing, _ = await nuc.person()
    serial = signing.record.serial
    await _refused("REVOCATION_REASON_UNKNOWN", nuc.revocation.revoke(serial=serial, reason="boredom"))
    await _refused("REVOCATION_REASON_UNKNOWN", nuc.revocation.revoke(serial=serial, reason="unspecified"))
    await _refused("CERTIFICATE_NOT_FOUND", nuc.revocation.revoke(serial="abc123", reason="superseded"))
    assert (await nuc.lookup.by_serial(serial)).status == "GOOD"
    revoked = await nuc.revocation.revoke(serial=serial.upper(), reason="superseded")
    assert (revoked.status, revoked.revoked_at) == ("REVOKED", START)
    await _refused("CERTIFICATE_ALREADY_REVOKED", nuc.revocation.revoke(serial=serial, reason="keyCompromise"))
    assert (await nuc.lookup.by_serial(serial.upper())).revocation_reason == "superseded"


async def test_search_needs_a_criterion_and_every_one_given_holds(nuc: Nuc):
    await _refused("SEARCH_CRITERION_MISSING", nuc.lookup.search(iin=None, bin_=None, member_id=None))
    await _refused("IIN_BAD_CHECK_DIGIT", nuc.lookup.search(iin="850701300008", bin_=None, member_id=None))
    await nuc.person()
    await nuc.issuance.issue_system(member_id="test.x", organisation="О", bin_=BIN, public_key=None)
    assert [r.usage for r in await nuc.lookup.search(iin=IIN, bin_=None, member_id=None)] == ["SIGN", "AUTH"]
    assert [r.member_id for r in await nuc.lookup.search(iin=None, bin_=BIN, member_id="test.x")] == ["test.x"]
    assert await nuc.lookup.search(iin=IIN, bin_=BIN, member_id=None) == []


async def test_not_yet_valid_counts_what_a_clock_reset_leaves_and_nothing_faulty_or_revoked(nuc: Nuc):
    await nuc.person()
    for revoked in await nuc.person(iin="850701300017"):
        await nuc.revocation.revoke(serial=revoked.record.serial, reason="superseded")
    await nuc.faulty.issue_faulty(FaultyWish(kind=BadKind.NOT_YET_VALID, iin=IIN))
    now = await nuc.lookup.not_yet_valid()
    assert (now.at, now.count) == (START, 0)
    back = await nuc.lookup.not_yet_valid(at=START - dt.timedelta(hours=1))
    assert (back.count, back.by_holder, back.latest_not_before) == (2, {"individual": 2},
                                                                    START - dt.timedelta(minutes=1))
    await _refused("TIME_WITHOUT_OFFSET", nuc.lookup.not_yet_valid(at=dt.datetime(2026, 1, 1)))


# ---- OCSP and CRL -----------------------------------------------------------------------------------------------
async def test_ocsp_answers_good_then_revoked_with_the_nonce_and_after_expiry_too(nuc: Nuc):
    signing, _ = await nuc.person()
    good = await nuc.status_of(signing.certificate, nonce=b"12345678")
    assert good.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert good.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"12345678"
    assert good.next_update_utc == START + dt.timedelta(minutes=5)
    await nuc.revocation.revoke(serial=signing.record.serial, reason="keyCompromise")
    nuc.time.skip(days=60)  # long after the certificate's end: НУЦ never forgets a revocation
    revoked = await nuc.status_of(signing.certificate)
    assert (revoked.certificate_status, revoked.revocation_reason, revoked.revocation_time_utc) == \
        (ocsp.OCSPCertStatus.REVOKED, x509.ReasonFlags.key_compromise, START)


async def test_ocsp_refuses_what_it_cannot_read_or_is_not_its_own(nuc: Nuc):
    answer, error = await nuc.ocsp.ocsp_response(b"garbage")
    assert error == "OCSP_MALFORMED_REQUEST"
    assert ocsp.load_der_ocsp_response(answer).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    signing, _ = await nuc.person()
    other_issuer = nuc.keys.chain()[1]  # the root did not issue the leaf: a CertID naming another issuer
    request = ocsp.OCSPRequestBuilder().add_certificate(signing.certificate, other_issuer, hashes.SHA256()).build()
    answer, error = await nuc.ocsp.ocsp_response(request.public_bytes(serialization.Encoding.DER))
    assert (error, ocsp.load_der_ocsp_response(answer).response_status) == \
        ("OCSP_UNKNOWN_ISSUER", ocsp.OCSPResponseStatus.UNAUTHORIZED)
    rogue, _ = await nuc.person(iin="850701300017", defect=BadKind.UNTRUSTED)
    assert (await nuc.status_of(rogue.certificate)).certificate_status == ocsp.OCSPCertStatus.UNKNOWN


async def test_the_crl_lists_every_revocation_but_a_look_alikes_and_says_since_when(nuc: Nuc):
    signing, _ = await nuc.person()
    rogue, _ = await nuc.person(iin="850701300017", defect=BadKind.UNTRUSTED)
    for issued in (signing, rogue):
        await nuc.revocation.revoke(serial=issued.record.serial, reason="keyCompromise")
    issuing, root = nuc.keys.chain()
    crl = await nuc.crls.crl()
    assert crl.is_signature_valid(issuing.public_key())  # type: ignore[arg-type]
    assert [r.serial_number for r in crl] == [signing.certificate.serial_number]
    assert crl.extensions.get_extension_for_oid(EXPIRED_CERTS_ON_CRL).critical is False
    root_crl = nuc.crls.root_crl()
    assert root_crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    assert (len(root_crl), root_crl.next_update_utc) == (0, START + dt.timedelta(hours=24))
