"""XML read safely, and WS-Security signatures over a SOAP 1.1 ``Body`` made and checked — what ШЭП's SOAP channels
carry (``shared.mesh.soap_channels``; docs/soap.md).

Parsing refuses what an attacker sends an XML endpoint: a document type declaration of any kind (entity expansion —
«billion laughs» — and external entities, XXE, both start there), more than ``MAX_DEPTH`` levels of elements, more
than ``MAX_XML_BYTES``; lxml is told never to resolve an entity or touch the network besides.

The signature is the shape the public clients of ШЭП make (WSS4J, KalkanCrypt's ``SignWSSE``, the NITEC samples):
``soap:Header/wsse:Security/ds:Signature`` with a ``ds:Reference`` to the ``Body`` by its ``wsu:Id`` (a bare
``Id`` or ``wsse:Id`` is resolved as well), exclusive canonicalisation, RSA with SHA-256 — the mesh's keys are RSA
and EC; GOST (НУЦ's GOSTKNCA) is recognised and refused by name, since no Python library verifies it. The signer's
certificate comes from the signature itself: ``wsse:SecurityTokenReference/wsse:KeyIdentifier`` (X509v3, the
dominant form), a reference to a ``wsse:BinarySecurityToken`` (zeep, Node's ``soap``), or ``ds:X509Data``. The
mathematics is checked by ``signxml`` (maintained, pure Python over lxml and cryptography: no C library to install,
and its verifier returns what was signed — the ``Body`` is read from that, never from the document around it, so a
signature wrapped around another element proves nothing about the one read). Whose certificate it is, whether it is
valid on the mesh clock and not revoked is the caller's business (``CertificateVerifier``), as for a CMS signature.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from shared.errors import MeshError
from shared.pki.signing import SignatureError, VerifiedSignature

MAX_XML_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_REFERENCES = 4

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
GOST = frozenset({  # НУЦ's GOST algorithms as the public clients name them: recognised, refused by name
    "http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311",
    "http://www.w3.org/2001/04/xmldsig-more#gost34311",
    "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-512",
    "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-512",
})
SIGNATURE_METHODS = frozenset({RSA_SHA256, ECDSA_SHA256, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
                               "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"})
DIGEST_METHODS = frozenset({SHA256, "http://www.w3.org/2001/04/xmlenc#sha512"})
NS = {"soap": SOAP11, "wsse": WSSE, "wsu": WSU, "ds": DS}
_NO_DTD = ("a document type declaration (DTD) is refused: entities — expanded or external — are how XML bombs and "
           "XXE are sent")


class XmlRefused(MeshError):
    """XML the mesh does not read: too large, not well-formed, an attack."""


def _parser() -> etree.XMLParser:
    # comments go at once: exclusive c14n leaves them out of what is signed, so a comment in signed content would
    # read differently from what the signature covers
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_pis=True, remove_comments=True, collect_ids=False)


def parse_xml(body: bytes) -> etree._Element:
    """``body`` as an element tree, or ``XmlRefused``: too large, not well-formed, a DTD, too deep."""
    if len(body) > MAX_XML_BYTES:
        raise XmlRefused("Client.TooLarge", f"the XML is {len(body):,} bytes; the most the mesh reads is "
                         f"{MAX_XML_BYTES:,}")
    if b"<!DOCTYPE" in body:  # before parsing at all; the parsed tree is checked again (another encoding)
        raise XmlRefused("Client.XmlForbidden", _NO_DTD)
    try:
        tree = etree.fromstring(body, parser=_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        if "Detected an entity reference loop" in str(exc) or "Excessive depth" in str(exc):
            raise XmlRefused("Client.XmlForbidden", f"the XML is refused: {exc}") from None
        raise XmlRefused("Client.XmlMalformed", f"not well-formed XML: {exc}") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise XmlRefused("Client.XmlForbidden", _NO_DTD)
    root = tree.getroot()
    _check_depth(root)
    return root


def _check_depth(root: etree._Element) -> None:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise XmlRefused("Client.XmlForbidden", f"elements nested more than {MAX_DEPTH} deep")
        stack.extend((child, depth + 1) for child in element)


def canonical(element: etree._Element) -> bytes:
    """Exclusive canonical XML of ``element`` (no comments): what a WS-Security reference digests."""
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


# ---- signing ------------------------------------------------------------------------------------------------
def sign_body(envelope: etree._Element, *, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
              certificate: x509.Certificate) -> etree._Element:
    """Sign ``envelope``'s ``Body`` in place, the way ШЭП's public clients do: a ``wsu:Id`` on the Body, a
    ``wsse:Security`` header (``mustUnderstand``) holding one ``ds:Signature`` with one reference to it, exclusive
    canonicalisation, and the signer's certificate whole in a ``KeyIdentifier`` (X509v3)."""
    body = envelope.find("soap:Body", NS)
    header = envelope.find("soap:Header", NS)
    if body is None:
        raise ValueError("no soap:Body to sign")
    if header is None:
        header = etree.Element(f"{{{SOAP11}}}Header")
        body.addprevious(header)
    body_id = f"id-{uuid.uuid4().hex}"
    body.set(f"{{{WSU}}}Id", body_id)
    security = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    security.set(f"{{{SOAP11}}}mustUnderstand", "1")
    signature = etree.SubElement(security, f"{{{DS}}}Signature", nsmap={"ds": DS})
    signed_info = etree.SubElement(signature, f"{{{DS}}}SignedInfo")
    etree.SubElement(signed_info, f"{{{DS}}}CanonicalizationMethod", Algorithm=EXC_C14N)
    etree.SubElement(signed_info, f"{{{DS}}}SignatureMethod",
                     Algorithm=RSA_SHA256 if isinstance(key, rsa.RSAPrivateKey) else ECDSA_SHA256)
    reference = etree.SubElement(signed_info, f"{{{DS}}}Reference", URI=f"#{body_id}")
    transforms = etree.SubElement(reference, f"{{{DS}}}Transforms")
    etree.SubElement(transforms, f"{{{DS}}}Transform", Algorithm=EXC_C14N)
    etree.SubElement(reference, f"{{{DS}}}DigestMethod", Algorithm=SHA256)
    digest = base64.b64encode(hashlib.sha256(canonical(body)).digest()).decode()
    etree.SubElement(reference, f"{{{DS}}}DigestValue").text = digest
    to_sign = canonical(signed_info)
    if isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
    else:  # XMLDSig wants r||s, not DER
        r, s = decode_dss_signature(key.sign(to_sign, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    etree.SubElement(signature, f"{{{DS}}}SignatureValue").text = base64.b64encode(raw).decode()
    key_info = etree.SubElement(signature, f"{{{DS}}}KeyInfo")
    reference_to_token = etree.SubElement(key_info, f"{{{WSSE}}}SecurityTokenReference")
    identifier = etree.SubElement(reference_to_token, f"{{{WSSE}}}KeyIdentifier", ValueType=X509V3,
                                  EncodingType=BASE64)
    identifier.text = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    return envelope


# ---- checking -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedBody:
    """A verified WS-Security signature: who signed (the certificate as the signature carries it) and the ``Body``
    as it was signed — parsed from the signed bytes, never taken from the document around the signature."""

    verified: VerifiedSignature
    body: etree._Element


def verify_body(envelope: etree._Element) -> SignedBody:
    """The ``Body``'s WS-Security signature checked (its mathematics, its reference to this envelope's own
    ``Body``); ``SignatureError`` with the specific fault."""
    signature, references = _signature_of(envelope)
    certificate = _signer_certificate(signature, envelope)
    signed = _verified(envelope, certificate=certificate, references=references)
    bodies = [r.signed_xml for r in signed if r.signed_xml is not None and r.signed_xml.tag == f"{{{SOAP11}}}Body"]
    if len(bodies) != 1:
        raise SignatureError("SIGNATURE_BODY_NOT_REFERENCED", "what was signed holds no soap:Body")
    return SignedBody(verified=VerifiedSignature(signer=certificate, certificates=(certificate,),
                                                 digest_algorithm="sha256"), body=bodies[0])


def _signature_of(envelope: etree._Element) -> tuple[etree._Element, int]:
    """The one ds:Signature of the header, checked before any mathematics: its algorithms accepted, a reference to
    this envelope's Body among at most ``MAX_REFERENCES``; and how many references it has."""
    body = envelope.find("soap:Body", NS)
    signatures = envelope.findall("soap:Header/wsse:Security/ds:Signature", NS)
    if body is None:
        raise SignatureError("SIGNATURE_MALFORMED", "no soap:Body")
    if not signatures:
        raise SignatureError("SIGNATURE_MISSING", "no wsse:Security/ds:Signature in the SOAP header: every "
                             "message is signed with its system's НУЦ certificate")
    if len(signatures) > 1:
        raise SignatureError("SIGNATURE_MALFORMED", "more than one ds:Signature in wsse:Security")
    signature = signatures[0]
    for method in signature.iterfind(".//ds:SignatureMethod", NS):
        _accepted(method.get("Algorithm", ""), SIGNATURE_METHODS)
    for method in signature.iterfind(".//ds:DigestMethod", NS):
        _accepted(method.get("Algorithm", ""), DIGEST_METHODS)
    references = signature.findall("ds:SignedInfo/ds:Reference", NS)
    if len(references) > MAX_REFERENCES:  # each is another canonicalisation of the document: a cost, no use
        raise SignatureError("SIGNATURE_MALFORMED", f"{len(references)} references: at most {MAX_REFERENCES} (the "
                             "Body, a Timestamp) are read")
    body_id = _body_id(body)
    if body_id is None or f"#{body_id}" not in {r.get("URI") for r in references}:
        raise SignatureError("SIGNATURE_BODY_NOT_REFERENCED", "the signature has no reference to this envelope's "
                             "soap:Body (by its wsu:Id): the Body is not what was signed")
    return signature, len(references)


def _verified(envelope: etree._Element, *, certificate: x509.Certificate, references: int) -> list[Any]:
    """signxml's verification, every reference and the signature value; its faults as ``SignatureError``."""
    from signxml import SignatureConfiguration, XMLVerifier
    from signxml.algorithms import DigestAlgorithm, SignatureMethod
    from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature

    config = SignatureConfiguration(
        location=f"./{{{SOAP11}}}Header/{{{WSSE}}}Security/", expect_references=references,
        signature_methods=frozenset(SignatureMethod(uri) for uri in SIGNATURE_METHODS),  # what _accepted let by
        digest_algorithms=frozenset(DigestAlgorithm(uri) for uri in DIGEST_METHODS),
        # the certificate's own validity is judged on the mesh clock by the caller, not on this machine's
        verification_time=certificate.not_valid_before_utc)
    try:  # id_attribute: signxml matches the local name, so wsu:Id, wsse:Id and a bare Id alike
        results = XMLVerifier().verify(envelope, x509_cert=certificate, expect_config=config, parser=_parser(),
                                       id_attribute="Id")
    except InvalidDigest as exc:
        raise SignatureError("SIGNATURE_CONTENT_MISMATCH", f"the signed content was altered after signing: {exc}") \
            from None
    except (InvalidSignature, InvalidCertificate) as exc:
        raise SignatureError("SIGNATURE_INVALID", f"the WS-Security signature does not verify: {exc}") from None
    except Exception as exc:  # InvalidInput, and whatever else signxml trips on (an empty value): malformed
        reason = f"{exc}" if isinstance(exc, InvalidInput) else f"{type(exc).__name__}: {exc}"
        raise SignatureError("SIGNATURE_MALFORMED", f"the WS-Security signature cannot be read: {reason}"[:400]) \
            from None
    return results if isinstance(results, list) else [results]


def _accepted(algorithm: str, accepted: frozenset[str]) -> None:
    if algorithm in GOST:
        raise SignatureError("SIGNATURE_ALGORITHM_UNSUPPORTED", f"{algorithm}: GOST signatures cannot be checked "
                             "here; the mesh's НУЦ issues RSA and EC keys — sign with RSA-SHA256")
    if algorithm not in accepted:
        raise SignatureError("SIGNATURE_ALGORITHM_UNSUPPORTED", f"{algorithm!r} is not accepted: "
                             f"{', '.join(sorted(accepted))} (SHA-1 is not)")


def _body_id(body: etree._Element) -> str | None:
    for name in (f"{{{WSU}}}Id", "Id", f"{{{WSSE}}}Id"):
        if body.get(name):
            return body.get(name)
    return None


def _signer_certificate(signature: etree._Element, envelope: etree._Element) -> x509.Certificate:
    """The certificate the signature names: a KeyIdentifier (X509v3), a reference to a BinarySecurityToken in
    the same header, or X509Data."""
    found = signature.findtext("ds:KeyInfo/wsse:SecurityTokenReference/wsse:KeyIdentifier", namespaces=NS)
    if not found:
        uri = signature.find("ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference", NS)
        if uri is not None and (uri.get("URI") or "").startswith("#"):
            wanted = uri.get("URI", "")[1:]
            for token in envelope.iterfind("soap:Header/wsse:Security/wsse:BinarySecurityToken", NS):
                if token.get(f"{{{WSU}}}Id") == wanted or token.get("Id") == wanted:
                    found = token.text
    if not found:
        found = signature.findtext(".//ds:KeyInfo//ds:X509Certificate", namespaces=NS)
    if not found:
        raise SignatureError("SIGNATURE_NO_SIGNER_CERTIFICATE", "the signature carries no certificate (a "
                             "KeyIdentifier X509v3, a BinarySecurityToken or X509Data/X509Certificate)")
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join(found.split()), validate=True))
    except ValueError as exc:
        raise SignatureError("SIGNATURE_NO_SIGNER_CERTIFICATE", f"the signer's certificate cannot be read: {exc}") \
            from None
