"""Payloads encrypted hop by hop (shared.mesh.payload_crypto): a JWE a stock JOSE library opens, to a key НУЦ certified
for key agreement; the signature verifiable end to end once opened; nothing opens with the wrong key or altered."""

from __future__ import annotations

import datetime as dt
import json

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwe
from joserfc.jwk import ECKey

from shared.db import make_engine, make_sessions
from shared.errors import MeshError
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.envelope import MessageType, unsigned_envelope
from shared.mesh.member import MemberRuntime
from shared.mesh.outbox import OutboxRelay
from shared.mesh.payload_crypto import (
    DECRYPTION_FAILED,
    KEY_UNKNOWN,
    DecryptionError,
    Keyring,
    can_agree_keys,
    encrypt,
    open_wire,
    read_wire,
    seal_wire,
)
from shared.pki.signing import SignerIdentity, sign_wire, verify_detached

BIN = "040540010011"


async def _system(pki, member_id: str) -> SignerIdentity:
    """A system's EC P-256 key (as ``shared.mesh.identity`` makes them) certified by НУЦ."""
    key = ec.generate_private_key(ec.SECP256R1())
    issued = await pki.ca.issue_system(member_id=member_id, organisation="АО «НИТ»", bin_=BIN,
                                       public_key=key.public_key())
    return SignerIdentity(key=key, certificate=issued.certificate, chain=tuple(pki.ca.chain()))


def _keyring(identity) -> Keyring:
    return Keyring([(identity.certificate, identity.key)])


async def test_a_system_certificate_allows_key_agreement_and_a_person_s_does_not(pki):
    system = await _system(pki, "portal")
    assert can_agree_keys(system.certificate)
    signing, _auth = await pki.person()
    assert not can_agree_keys(signing.certificate)


async def test_a_stock_jose_library_opens_what_the_mesh_encrypts(pki):
    gateway = await _system(pki, "shep")
    token = encrypt(b'{"iin": "900101300123"}', recipient=gateway.certificate)
    key = ECKey.import_key(gateway.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    opened = jwe.decrypt_compact(token, key)
    assert opened.plaintext == b'{"iin": "900101300123"}'
    assert opened.protected == {"alg": "ECDH-ES", "enc": "A256GCM", "kid": format(gateway.certificate.serial_number,
                                                                                 "x"), "epk": opened.protected["epk"]}


async def test_an_envelope_sealed_for_the_hop_opens_and_its_signature_verifies_end_to_end(pki):
    sender, gateway = await _system(pki, "portal"), await _system(pki, "shep")
    wire = sign_wire(wire=unsigned_envelope(service_id="test.svc", message_type=MessageType.REQUEST, sender="portal",
                                            data={"iin": "900101300123"}, message_date=dt.datetime.now(dt.UTC)),
                     signer=sender)
    body = orjson.dumps(seal_wire(wire, recipient=gateway.certificate))
    assert b"900101300123" not in body
    assert b'"signature"' not in body, "the signature's digest would confirm a guessed IIN: it is encrypted too"
    travelling = read_wire(body)
    assert travelling.header.sender == "portal"
    opened = open_wire(travelling, _keyring(gateway))
    assert opened.envelope.data == {"iin": "900101300123"}
    assert verify_detached(content=opened.signed_bytes(), signature_b64=opened.envelope.signature).signer == \
        sender.certificate


async def test_the_wrong_key_or_an_altered_byte_opens_nothing(pki):
    gateway, other = await _system(pki, "shep"), await _system(pki, "portal")
    token = encrypt(b"secret", recipient=gateway.certificate)
    with pytest.raises(DecryptionError) as unknown:
        _keyring(other).decrypt(token)
    assert unknown.value.code == KEY_UNKNOWN
    protected, empty, iv, ciphertext, tag = token.split(".")
    flipped = ("B" if ciphertext[0] == "A" else "A") + ciphertext[1:]
    with pytest.raises(DecryptionError) as altered:
        _keyring(gateway).decrypt(".".join((protected, empty, iv, flipped, tag)))
    assert altered.value.code == DECRYPTION_FAILED
    with pytest.raises(DecryptionError):
        _keyring(gateway).decrypt("not.a.jwe")


async def test_a_renewed_member_still_opens_what_was_encrypted_to_its_previous_certificate(pki):
    old, new = await _system(pki, "portal"), await _system(pki, "portal")
    keyring = Keyring([(old.certificate, old.key), (new.certificate, new.key)])
    assert keyring.decrypt(encrypt(b"before", recipient=old.certificate)) == b"before"
    assert keyring.decrypt(encrypt(b"after", recipient=new.certificate)) == b"after"


async def test_an_encrypted_payload_nested_past_the_mesh_limit_is_an_invalid_envelope(pki):
    """What was encrypted is held to the same JSON limit as what travels in clear: 300 levels of ``data`` (more
    than orjson re-encodes: 254) is ``Client.InvalidEnvelope`` naming the depth, not a crash of the consumer."""
    gateway = await _system(pki, "shep")
    deep: dict = {}
    for _ in range(300):
        deep = {"a": deep}
    secret = json.dumps({"data": deep, "signature": "AA=="}).encode()  # orjson will not write 300 levels
    header = unsigned_envelope(service_id="test.svc", message_type=MessageType.REQUEST, sender="portal", data={},
                               message_date=dt.datetime.now(dt.UTC))
    body = orjson.dumps({k: v for k, v in header.items() if k != "data"}
                        | {"encrypted": encrypt(secret, recipient=gateway.certificate)})
    with pytest.raises(MeshError) as refused:
        open_wire(read_wire(body), _keyring(gateway))
    assert refused.value.code == "Client.InvalidEnvelope"
    assert "JSON_TOO_DEEP" in refused.value.message or "deep" in refused.value.message


async def test_a_member_takes_as_the_gateways_only_the_gateways_own_system_certificate(pki, tmp_path):
    """The gateway's certificate reaches a member over plain HTTP (``GET :8002/certificate``): one swapped on the
    way would receive every payload. A member's runtime takes only НУЦ's system certificate of ``shep``."""
    engine = make_engine(f"sqlite:///{tmp_path / 'member.db'}")
    sessions, bus = make_sessions(engine), MemoryBus(broker=MemoryBroker())
    runtime = MemberRuntime(member_id="portal", bus=bus, sessions=sessions, clock=pki.clock,
                            relay=OutboxRelay(sessions=sessions, bus=bus))
    me, gateway, impostor = (await _system(pki, "portal"), await _system(pki, "shep"), await _system(pki, "mallory"))
    person = pki.identity((await pki.person())[0])
    for wrong in (impostor.certificate, person.certificate):
        with pytest.raises(MeshError) as refused:
            runtime.attach(signer=me, verifier=pki.verifier(), gateway_certificate=wrong)
        assert refused.value.code == "GATEWAY_CERTIFICATE_UNTRUSTED"
    runtime.attach(signer=me, verifier=pki.verifier(), gateway_certificate=gateway.certificate)
    assert runtime.gateway_certificate == gateway.certificate
    await engine.dispose()
