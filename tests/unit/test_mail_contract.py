"""The mesh.mail contract (what the gateway and the outbox accept), ``send_mail`` checking it before anything is
queued, and the seed registry routing mail to the one outbox."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import yaml

from services.shep_gateway.domain import Destination, Refusal, Registry, RegistryFile
from services.shep_gateway.settings import DEFAULT_REGISTRY
from shared.employment.mail import MAIL_MEMBER, send_mail
from shared.errors import MeshError
from shared.mesh.contracts import MAIL_SERVICE, MAX_ATTACHMENT_BASE64, MailRequest, parse_payload
from shared.mesh.envelope import Envelope, MessageType

ATTACHMENT = {"name": "ZHZ-2026-000001.json", "contentType": "application/json", "contentBase64": "e30="}


def _parse(**data: Any) -> MailRequest:
    payload = parse_payload(service_id=MAIL_SERVICE, message_type=MessageType.REQUEST, data=data)
    assert isinstance(payload, MailRequest)
    return payload


def test_an_email_and_an_sms_fit_the_contract():
    mail = _parse(kind="email", to="aigerim@example.kz", subject="Результат", text="Во вложении",
                  applicationNumber="ZHZ-2026-000001", attachments=[ATTACHMENT])
    assert mail.attachments[0].content_type == "application/json"
    assert _parse(kind="sms", to="+77011234567", text="Заявление принято").subject is None


@pytest.mark.parametrize(("data", "where"), [
    ({"kind": "email", "to": "+77011234567", "text": "x"}, "data.to"),
    ({"kind": "email", "to": "no-at-sign.kz", "text": "x"}, "data.to"),
    ({"kind": "sms", "to": "a@example.kz", "text": "x"}, "data.to"),
    ({"kind": "sms", "to": "87011234567", "text": "x"}, "data.to"),
    ({"kind": "sms", "to": "+77011234567", "text": "x", "attachments": [ATTACHMENT]}, "data.attachments"),
    ({"kind": "fax", "to": "a@example.kz", "text": "x"}, "data.kind"),
    ({"kind": "email", "to": "a@example.kz", "text": ""}, "data.text"),
    ({"kind": "email", "to": "a@example.kz", "text": "x", "sender": "mio.almaty"}, "data.sender"),
    ({"kind": "email", "to": "a@example.kz", "text": "x",
      "attachments": [ATTACHMENT | {"contentBase64": "not base64!"}]}, "data.attachments.0.contentBase64"),
    ({"kind": "email", "to": "a@example.kz", "text": "x",
      "attachments": [ATTACHMENT | {"contentBase64": "A" * (MAX_ATTACHMENT_BASE64 // 2)}] * 3}, "data.attachments"),
])
def test_mail_that_does_not_fit_is_refused_naming_the_field(data: dict[str, Any], where: str):
    with pytest.raises(MeshError) as refused:
        _parse(**data)
    assert refused.value.code == "Client.InvalidPayload"
    assert f": {where}: " in refused.value.message


class _Runtime:
    """What ``send_mail`` uses of a member runtime: ``send`` into the caller's session."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, session: Any, **compose: Any) -> dict[str, Any]:
        self.sent.append(compose)
        return {"messageId": str(uuid.uuid4())}


def test_send_mail_checks_the_contract_before_queuing():
    runtime = _Runtime()
    with pytest.raises(MeshError) as refused:
        send_mail(object(), runtime, kind="email", to="+77011234567", subject=None, text="x",  # type: ignore[arg-type]
                  correlation_id="case-1")
    assert (refused.value.code, refused.value.status) == ("MAIL_INVALID", 422)
    assert runtime.sent == [], "nothing queued"
    send_mail(object(), runtime, kind="email", to="a@example.kz", subject="S", text="T",  # type: ignore[arg-type]
              correlation_id="case-1", application_number="ZHZ-2026-000001", attachments=[ATTACHMENT])
    [queued] = runtime.sent
    assert (queued["service_id"], queued["message_type"], queued["correlation_id"]) == (
        MAIL_SERVICE, MessageType.REQUEST, "case-1")
    assert queued["data"] == {"kind": "email", "to": "a@example.kz", "subject": "S", "text": "T",
                              "applicationNumber": "ZHZ-2026-000001", "attachments": [ATTACHMENT]}
    assert not {"route_id", "recipient"} & set(queued), "the gateway routes it to the one outbox"


def _request(sender: str) -> Envelope:
    return Envelope.model_validate({
        "messageId": str(uuid.uuid4()), "correlationId": "case-1", "serviceId": MAIL_SERVICE, "messageType": "REQUEST",
        "messageDate": dt.datetime.now(dt.UTC).isoformat(), "sender": sender, "signature": "x",
        "data": {"kind": "sms", "to": "+77011234567", "text": "x"}})


def test_the_seed_registry_routes_mail_from_the_portal_con_and_every_mio_to_the_outbox():
    parsed = RegistryFile.model_validate(yaml.safe_load(DEFAULT_REGISTRY.read_text()))
    registry = Registry(members={m.id: m for m in parsed.members}, services={s.id: s for s in parsed.services})
    assert registry.members[MAIL_MEMBER].kind == "mail"
    for sender in ("portal", "con", "mio.almaty", "mio.district-added-later"):
        destination = registry.route(_request(sender), prior=None)
        assert isinstance(destination, Destination), sender
        assert (destination.recipient, destination.channel) == (MAIL_MEMBER, "async")
    refused = registry.route(_request("gbdfl"), prior=None)
    assert isinstance(refused, Refusal)
    assert refused.code == "Client.AccessDenied"
