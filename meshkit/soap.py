"""A system written for ШЭП's SOAP channels, for testers (docs/soap.md): enrol one (a registry entry with
``door: soap``, an RSA key and its НУЦ certificate pinned, its ``senderId`` and password), and write and sign the
calls it makes — ``SendMessage`` on SyncChannel, ``sendMessage`` on AsyncChannel — the way the public ШЭП clients
do. ``tests/`` use it; so can a script that wants to see what its own system should send."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from meshkit.members import Endpoints, Enrolled, enroll
from meshkit.sdk import DEFAULT_MESH_FILE
from shared.mesh.soap_channels import request_message, to_bytes
from shared.pki.signing import load_pem_certificates
from shared.pki.xmldsig import sign_body


@dataclass
class SoapMember:
    """An enrolled SOAP member: its key and certificate, its credentials, where it calls the gateway."""

    enrolled: Enrolled
    password: str
    sync_url: str
    async_url: str
    gateway_certificate: x509.Certificate

    @property
    def member_id(self) -> str:
        return self.enrolled.member_id

    def sync_call(self, *, service_id: str, data: dict[str, Any], message_id: uuid.UUID | None = None,
                  password: str | None = None, sign: bool = True, **info: Any) -> bytes:
        """A signed ``SendMessage`` from this member (``password``: another than its own)."""
        envelope = send_message(sender_id=self.member_id, password=self.password if password is None else password,
                                service_id=service_id, data=data, message_id=message_id, **info)
        return self.signed(envelope) if sign else to_bytes(envelope)

    def async_call(self, *, service_id: str, message_type: str, data: dict[str, Any], sign: bool = True,
                   **info: Any) -> bytes:
        envelope = async_send_message(sender_id=self.member_id, password=self.password, service_id=service_id,
                                      message_type=message_type, data=data, **info)
        return self.signed(envelope) if sign else to_bytes(envelope)

    def write(self, directory: Path) -> None:
        """key.pem (private), cert.pem, chain.pem and gateway.pem (what checks the gateway's signatures)."""
        self.enrolled.write(directory)
        (directory / "gateway.pem").write_bytes(self.gateway_certificate.public_bytes(serialization.Encoding.PEM))

    def signed(self, envelope: etree._Element) -> bytes:
        identity = self.enrolled.identity
        return to_bytes(sign_body(envelope, key=identity.key, certificate=identity.certificate))


def member_directory(member_id: str) -> Path:
    """Where ``meshctl soap enrol`` writes a SOAP member's files: beside the mesh file (var/soap/<member>)."""
    return Path(os.environ.get("MESH_FILE") or DEFAULT_MESH_FILE).parent / "soap" / member_id


async def enroll_soap(mesh: Endpoints, *, member_id: str, soap_endpoint: str | None = None,
                      district: str | None = None) -> SoapMember:
    """A SOAP member in the registry, with an RSA key and its НУЦ certificate pinned, and its credentials
    (``soap_endpoint``: where the gateway pushes what is addressed to it; ``district``: the one it serves)."""
    enrolled = await enroll(mesh, member_id=member_id, key_kind="rsa", door="soap", soap_endpoint=soap_endpoint,
                            district=district)
    async with mesh.client() as http:
        reply = await http.post(f"{mesh.gateway}/admin/soap/members/{member_id}/credentials", headers=mesh.admin)
        reply.raise_for_status()
        body = reply.json()
    return SoapMember(enrolled=enrolled, password=body["password"], sync_url=body["syncUrl"],
                      async_url=body["asyncUrl"],
                      gateway_certificate=load_pem_certificates(body["gatewayCertificatePem"])[0])


def send_message(*, sender_id: str, password: str | None, service_id: str, data: dict[str, Any],
                 message_id: uuid.UUID | None = None, correlation_id: str | None = None, route_id: str | None = None,
                 message_date: dt.datetime | None = None, properties: dict[str, str] | None = None) -> etree._Element:
    """SyncChannel's ``SendMessage``, unsigned: ``requestInfo`` in the schema's order, ``data`` as JSON text."""
    return request_message("sync", service_id=service_id, sender_id=sender_id, password=password, data=data,
                           message_id=message_id or uuid.uuid4(), correlation_id=correlation_id, route_id=route_id,
                           message_date=message_date or dt.datetime.now(dt.UTC), properties=properties,
                           prefix="soapenv")


def async_send_message(*, sender_id: str, password: str | None, service_id: str, message_type: str,
                       data: dict[str, Any], message_id: uuid.UUID | None = None, correlation_id: str | None = None,
                       route_id: str | None = None, message_date: dt.datetime | None = None,
                       properties: dict[str, str] | None = None) -> etree._Element:
    """AsyncChannel's ``sendMessage``, unsigned (``messageId`` may be left to the gateway, as its schema says)."""
    return request_message("async", service_id=service_id, sender_id=sender_id, password=password, data=data,
                           message_id=message_id, correlation_id=correlation_id, message_type=message_type,
                           route_id=route_id, message_date=message_date or dt.datetime.now(dt.UTC),
                           properties=properties, prefix="soapenv")
