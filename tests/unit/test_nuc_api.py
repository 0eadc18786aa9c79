"""НУЦ over HTTP: issuance, revocation, OCSP and CRL, and a specific error for every bad input."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from services.nuc_pki.main import create_app
from services.nuc_pki.settings import NucSettings
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.settings import MeshSettings

TOKEN = "unit-admin-token-0123"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
IIN = "850701300007"


@pytest.fixture
def nuc(tmp_path):
    settings = NucSettings(database_url=f"sqlite:///{tmp_path / 'nuc.db'}", public_url="http://nuc.test",
                           mesh=MeshSettings(env="test", admin_token=TOKEN, key_passphrase="unit-passphrase-0123",
                                             gateway_url="http://127.0.0.1:9"))
    with TestClient(create_app(settings, bus=MemoryBus(broker=MemoryBroker()))) as client:
        for _ in range(100):  # the CA is up (its broker login waits for a gateway these tests do not run)
            if client.get("/ready").json()["checks"].get("ca") == "ok":
                break
            time.sleep(0.05)
        yield client


def _csr(key) -> str:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whatever")])
    return x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM).decode()


def _count(nuc) -> int:
    return len(nuc.get("/certificates", params={"iin": IIN}, headers=ADMIN).json()["certificates"])


def test_individual_gets_a_signing_and_an_authentication_certificate(nuc):
    reply = nuc.post("/certificates/individual", headers=ADMIN, json={
        "iin": IIN, "surname": "Тестов", "name": "Тест", "patronymic": "Тестович", "pkcs12Password": "secret-1"})
    assert reply.status_code == 201
    body = reply.json()
    assert (body["signing"]["usage"], body["authentication"]["usage"]) == ("SIGN", "AUTH")
    cert = x509.load_pem_x509_certificate(body["signing"]["certificatePem"].encode())
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == f"IIN{IIN}"
    assert body["signing"]["pkcs12Base64"]
    looked_up = nuc.get(f"/certificates/{body['signing']['serial']}", headers=ADMIN).json()
    assert looked_up["info"]["iin"] == IIN
    assert looked_up["status"] == "GOOD"


def test_an_anonymous_look_up_by_serial_tells_the_status_and_nothing_about_the_holder(nuc):
    """The public CRL lists revoked serials; a look-up of one must not then name its holder (IIN, name)."""
    body = nuc.post("/certificates/individual", headers=ADMIN, json={
        "iin": IIN, "surname": "Тестов", "name": "Тест", "pkcs12Password": "secret-1"}).json()
    serial = body["signing"]["serial"]
    nuc.post(f"/certificates/{serial}/revoke", headers=ADMIN, json={"reason": "keyCompromise"}).raise_for_status()
    anonymous = nuc.get(f"/certificates/{serial}")
    assert anonymous.status_code == 200
    assert anonymous.json()["status"] == "REVOKED"
    assert set(anonymous.json()) == {"serial", "usage", "notBefore", "notAfter", "status", "revokedAt",
                                     "revocationReason"}
    assert IIN not in anonymous.text
    assert "Тестов" not in anonymous.text


def test_one_key_for_both_purposes_is_refused(nuc):
    key = ec.generate_private_key(ec.SECP256R1())
    before = _count(nuc)
    reply = nuc.post("/certificates/individual", headers=ADMIN, json={
        "iin": IIN, "surname": "Тестов", "name": "Тест", "signingCsrPem": _csr(key), "authenticationCsrPem": _csr(key)})
    assert (reply.status_code, reply.json()["code"]) == (422, "CSR_KEY_REUSED")
    assert _count(nuc) == before, "nothing issued"


def test_certificates_from_csrs_carry_the_requesters_keys(nuc):
    sign_key, auth_key = rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(
        ec.SECP256R1())
    reply = nuc.post("/certificates/employee", headers=ADMIN, json={
        "iin": IIN, "surname": "Тестов", "name": "Тест", "organisation": "ТОО «Тест»", "bin": "940140000385",
        "role": "head", "signingCsrPem": _csr(sign_key), "authenticationCsrPem": _csr(auth_key)})
    assert reply.status_code == 201
    signing = x509.load_pem_x509_certificate(reply.json()["signing"]["certificatePem"].encode())
    assert signing.public_key() == sign_key.public_key()
    assert "pkcs12Base64" not in reply.json()["signing"]
    assert reply.json()["signing"]["roles"] == ["head"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"iin": "850701300008", "surname": "А", "name": "Б", "pkcs12Password": "secret-1"}, 422, "IIN_BAD_CHECK_DIGIT"),
    ({"iin": IIN, "surname": "А", "name": "Б"}, 422, "REQUEST_INVALID"),
    ({"iin": IIN, "surname": "А", "name": "Б", "signingCsrPem": "garbage", "authenticationCsrPem": "garbage"},
     422, "CSR_MALFORMED"),
    ({"iin": IIN, "surname": "Ж" * 40, "name": "Б", "pkcs12Password": "secret-1"}, 422, "NAME_TOO_LONG"),
])
def test_bad_issuance_requests_are_refused_and_change_nothing(nuc, body, status, code):
    before = _count(nuc)
    reply = nuc.post("/certificates/individual", headers=ADMIN, json=body)
    assert (reply.status_code, reply.json()["code"]) == (status, code)
    assert reply.json()["message"]
    assert _count(nuc) == before


def test_weak_and_forged_csrs_are_refused(nuc):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weakness is the point
    reply = nuc.post("/certificates/system", headers=ADMIN, json={
        "memberId": "test.weak", "organisation": "Org", "bin": "940140000385", "csrPem": _csr(weak)})
    assert reply.json()["code"] == "CSR_KEY_TOO_WEAK"
    good = _csr(ec.generate_private_key(ec.SECP256R1()))
    der = bytearray(x509.load_pem_x509_csr(good.encode()).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0xFF  # flip bits inside the CSR's own signature
    forged = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()
    reply = nuc.post("/certificates/system", headers=ADMIN, json={
        "memberId": "test.forged", "organisation": "Org", "bin": "940140000385", "csrPem": forged})
    assert reply.json()["code"] == "CSR_SIGNATURE_INVALID"


def test_admin_endpoints_need_the_token(nuc):
    body = {"iin": IIN, "surname": "А", "name": "Б", "pkcs12Password": "secret-1"}
    assert nuc.post("/certificates/individual", json=body).json()["code"] == "ADMIN_TOKEN_MISSING"
    wrong = nuc.post("/certificates/individual", json=body, headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["code"]) == (403, "ADMIN_TOKEN_INVALID")


def _issue(nuc) -> dict:
    return nuc.post("/certificates/individual", headers=ADMIN, json={
        "iin": IIN, "surname": "Тестов", "name": "Тест", "pkcs12Password": "secret-1"}).json()["signing"]


def test_revocation_reaches_ocsp_and_crl(nuc):
    issued = _issue(nuc)
    cert = x509.load_pem_x509_certificate(issued["certificatePem"].encode())
    issuer = x509.load_pem_x509_certificate(nuc.get("/ca/issuing.pem").content)
    nonce = b"12345678"
    request = (ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256())
               .add_extension(x509.OCSPNonce(nonce), critical=False).build().public_bytes(serialization.Encoding.DER))

    def ask_post():
        return ocsp.load_der_ocsp_response(nuc.post("/ocsp", content=request,
                                                    headers={"content-type": "application/ocsp-request"}).content)

    first = ask_post()
    assert first.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert first.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    assert nuc.post(f"/certificates/{issued['serial']}/revoke", headers=ADMIN,
                    json={"reason": "keyCompromise"}).json()["status"] == "REVOKED"
    by_get = ocsp.load_der_ocsp_response(nuc.get(f"/ocsp/{base64.b64encode(request).decode()}").content)
    assert by_get.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert by_get.revocation_reason == x509.ReasonFlags.key_compromise
    crl = x509.load_der_x509_crl(nuc.get("/crl").content)
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    assert crl.is_signature_valid(issuer.public_key())


def test_revocation_mistakes_are_named(nuc):
    issued = _issue(nuc)
    assert nuc.post("/certificates/abc123/revoke", headers=ADMIN, json={"reason": "keyCompromise"}).json()["code"] \
        == "CERTIFICATE_NOT_FOUND"
    assert nuc.post(f"/certificates/{issued['serial']}/revoke", headers=ADMIN,
                    json={"reason": "boredom"}).json()["code"] == "REVOCATION_REASON_UNKNOWN"
    assert nuc.get(f"/certificates/{issued['serial']}").json()["status"] == "GOOD"
    nuc.post(f"/certificates/{issued['serial']}/revoke", headers=ADMIN, json={"reason": "superseded"})
    again = nuc.post(f"/certificates/{issued['serial']}/revoke", headers=ADMIN, json={"reason": "keyCompromise"})
    assert (again.status_code, again.json()["code"]) == (409, "CERTIFICATE_ALREADY_REVOKED")
    assert nuc.get(f"/certificates/{issued['serial']}").json()["revocationReason"] == "superseded"


def test_malformed_ocsp_requests_get_an_ocsp_error_and_a_named_code(nuc):
    reply = nuc.post("/ocsp", content=b"garbage", headers={"content-type": "application/ocsp-request"})
    assert reply.status_code == 400
    assert reply.headers["x-mesh-error-code"] == "OCSP_MALFORMED_REQUEST"
    assert ocsp.load_der_ocsp_response(reply.content).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    wrong_type = nuc.post("/ocsp", content=b"x", headers={"content-type": "text/plain"})
    assert (wrong_type.status_code, wrong_type.json()["code"]) == (415, "OCSP_CONTENT_TYPE")


def test_faulty_test_certificates_need_the_token_and_say_what_is_wrong(nuc):
    body = {"kind": "expired", "iin": IIN, "pkcs12Password": "secret-1"}
    assert nuc.post("/test/certificates", json=body).status_code == 401
    reply = nuc.post("/test/certificates", headers=ADMIN, json=body)
    assert reply.status_code == 201
    assert reply.json()["signing"]["defect"] == "expired"
    bad_kind = nuc.post("/test/certificates", headers=ADMIN, json={**body, "kind": "slightly-off"})
    assert bad_kind.json()["code"] == "REQUEST_INVALID"
