"""ШЭП's own SOAP channels, SyncChannel v10 and AsyncChannel v10, read and written — the second door into the same
pipeline (docs/soap.md). A SOAP call becomes the mesh's envelope: the fields map one to one (``messageId``,
``correlationId``, ``serviceId``, ``messageType``, ``messageDate``, ``sender/senderId``, ``routeId``; ``data`` is
a JSON object — as text, ``xsi:type="xs:string"``, or as elements, each child a key), read from the Body as it was
signed. What the Body does not carry the gateway assigns: AsyncChannel's ``messageId`` when the sender leaves it out
(its schema says ШЭП fills it: the gateway derives it from the signature, so the same signed call sent twice is the
same message), the recipient; ``inReplyTo`` and a notification's ``recipient`` travel as properties of those
names. The envelope is then signed by the gateway for that sender (``shared.mesh.envelope.VOUCHED``), as ШЭП signs
what it passes on: the SOAP message — its password inside the signed Body — goes no further than the gateway.

Element names, their order, the unqualified children under a qualified wrapper and the fault element follow the
public WSDL and XSD set of the two channels (``services/shep_gateway/soap/wsdl``); nothing there is copied."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from lxml import etree

from shared.errors import MeshError
from shared.mesh.envelope import Envelope, MessageType
from shared.pki.xmldsig import DS, SOAP11, WSSE, WSU

SYNC_TYPES = "http://bip.bee.kz/SyncChannel/v10/Types"
ASYNC_TYPES = "http://bip.bee.kz/AsyncChannel/v10/Types"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
SUCCESS = ("SCSS001", "Message has been processed successfully")
OPERATIONS = {(SYNC_TYPES, "SendMessage"): "sync", (ASYNC_TYPES, "sendMessage"): "async"}
ASYNC_TYPES_IN = {"REQUEST": MessageType.REQUEST, "RESPONSE": MessageType.RESPONSE,
                  "NOTIFICATION": MessageType.NOTIFICATION, "UPDATE": MessageType.NOTIFICATION}


def _refuse(message: str) -> MeshError:
    return MeshError("Client.SoapInvalid", message)


@dataclass
class SoapCall:
    """A SOAP request as read from its (signed) Body: who sends it, and the envelope fields it gives."""

    sender_id: str
    password: str | None
    fields: dict[str, Any] = field(default_factory=dict)  # the envelope's, as the Body gives them


def operation_of(envelope: etree._Element) -> tuple[str, etree._Element]:
    """The channel a SOAP 1.1 envelope calls, and its operation element; ``Client.SoapInvalid`` otherwise."""
    if envelope.tag != f"{{{SOAP11}}}Envelope":
        raise _refuse(f"not a SOAP 1.1 envelope: the root is {envelope.tag!r} (SOAP 1.1, {SOAP11})")
    body = envelope.find(f"{{{SOAP11}}}Body")
    if body is None:
        raise _refuse("no SOAP Body")
    return _called(body)


def _called(body: etree._Element) -> tuple[str, etree._Element]:
    """The channel a Body's operation belongs to, and the operation (its first element: a comment is none)."""
    operation = next((child for child in body if isinstance(child.tag, str)), None)
    if operation is None:
        raise _refuse("the SOAP Body is empty")
    qname = etree.QName(operation)
    channel = OPERATIONS.get((qname.namespace or "", qname.localname))
    if channel is None:
        raise _refuse(f"no operation {qname.localname!r} in {qname.namespace!r}: the channels are SendMessage in "
                      f"{SYNC_TYPES} and sendMessage in {ASYNC_TYPES}")
    return channel, operation


def read_call(body: etree._Element) -> SoapCall:
    """The envelope fields a (verified) Body gives; ``Client.SoapInvalid`` naming what is missing or wrong."""
    channel, operation = _called(body)
    request = _child(operation, "request")
    info = _child(request, "requestInfo" if channel == "sync" else "messageInfo")
    data_holder = _child(request, "requestData" if channel == "sync" else "messageData")
    sender = _child(info, "sender")
    sender_id = _text(sender, "senderId", required=True)
    fields: dict[str, Any] = {
        "serviceId": _text(info, "serviceId", required=True),
        "messageDate": _date(str(_text(info, "messageDate", required=True))),
        "sender": sender_id,
    }
    message_id = _text(info, "messageId")
    if message_id is not None:
        fields["messageId"] = _uuid(message_id)
    correlation_id = _text(info, "correlationId")
    if channel == "sync":
        fields["messageType"] = MessageType.REQUEST
    else:
        kind = _text(info, "messageType", required=True)
        if kind not in ASYNC_TYPES_IN:
            raise _refuse(f"messageType {kind!r}: one of {', '.join(ASYNC_TYPES_IN)}")
        fields["messageType"] = ASYNC_TYPES_IN[kind]
    if correlation_id is not None:
        fields["correlationId"] = correlation_id
    route_id = _text(info, "routeId")
    if route_id is not None:
        fields["routeId"] = route_id
    properties = {}
    for prop in info.findall("properties"):
        key, value = _text(prop, "key", required=True), _text(prop, "value", required=True)
        properties[str(key)] = str(value)
    if "inReplyTo" in properties:
        fields["inReplyTo"] = _uuid(properties["inReplyTo"])
    if "recipient" in properties:
        fields["recipient"] = properties["recipient"]
    fields["data"] = read_data(data_holder.find("data"))
    return SoapCall(sender_id=str(sender_id), password=_text(sender, "password"), fields=fields)


def read_data(element: etree._Element | None) -> dict[str, Any]:
    """``data`` as the mesh's JSON object: its text parsed as JSON, or its child elements as keys."""
    if element is None:
        return {}
    if len(element):
        return _element_dict(element)
    text = (element.text or "").strip()
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise MeshError("Client.InvalidPayload", f"data is neither elements nor a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise MeshError("Client.InvalidPayload", "data must be a JSON object (or elements, one a key)")
    return value


def _element_dict(element: etree._Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        key = etree.QName(child).localname
        value: Any = _element_dict(child) if len(child) else (child.text or "")
        if key in out:
            out[key] = [*out[key], value] if isinstance(out[key], list) else [out[key], value]
        else:
            out[key] = value
    return out


def _child(parent: etree._Element, name: str) -> etree._Element:
    found = parent.find(name)
    if found is None:
        raise _refuse(f"{etree.QName(parent).localname} has no {name} (children are unqualified, in no namespace)")
    return found


def _text(parent: etree._Element, name: str, *, required: bool = False) -> str | None:
    found = parent.find(name)
    text = (found.text or "").strip() if found is not None else ""
    if not text:
        if required:
            raise _refuse(f"{etree.QName(parent).localname}/{name} is required")
        return None
    return text


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value.strip("{}"))
    except ValueError:
        raise _refuse(f"{value!r} is not a UUID: the mesh's message ids are UUIDs") from None


def _date(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _refuse(f"messageDate {value!r} is not an xsd:dateTime") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def signature_value(envelope: etree._Element) -> str:
    """The WS-Security signature's value, as sent (whitespace dropped): what an id derived from the signed call
    is made from."""
    value = envelope.findtext(f"{{{SOAP11}}}Header/{{{WSSE}}}Security/{{{DS}}}Signature/{{{DS}}}SignatureValue")
    return "".join((value or "").split())


# ---- what the gateway answers --------------------------------------------------------------------------------
def _el(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, name)
    if text is not None:
        element.text = text
    return element


def soap_envelope(*, prefix: str = "soap") -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={prefix: SOAP11, "wsu": WSU})
    etree.SubElement(envelope, f"{{{SOAP11}}}Header")
    return envelope, etree.SubElement(envelope, f"{{{SOAP11}}}Body")


def session_guid(value: uuid.UUID | None = None) -> str:
    return "{" + str(value or uuid.uuid4()) + "}"


def _data(parent: etree._Element, data: dict[str, Any]) -> None:
    holder = etree.SubElement(parent, "data", nsmap={"xsi": XSI, "xs": XSD})
    holder.set(f"{{{XSI}}}type", "xs:string")
    holder.text = orjson.dumps(data).decode()


def sync_response(*, message_id: uuid.UUID, correlation_id: str | None, data: dict[str, Any], when: dt.datetime,
                  session: str, status: tuple[str, str] = SUCCESS) -> etree._Element:
    """``SendMessageResponse``: the provider's answer, ``status`` SCSS001, ``sessionId`` the gateway's."""
    envelope, body = soap_envelope()
    wrapper = etree.SubElement(body, f"{{{SYNC_TYPES}}}SendMessageResponse", nsmap={"ns2": SYNC_TYPES})
    response = _el(wrapper, "response")
    info = _el(response, "responseInfo")
    _el(info, "messageId", str(message_id))
    if correlation_id:
        _el(info, "correlationId", correlation_id)
    _el(info, "responseDate", when.isoformat())
    status_el = _el(info, "status")
    _el(status_el, "code", status[0])
    _el(status_el, "message", status[1])
    _el(info, "sessionId", session)
    _data(_el(response, "responseData"), data)
    return envelope


def async_response(*, message_id: uuid.UUID, correlation_id: str, when: dt.datetime, session: str) -> etree._Element:
    """``sendMessageResponse``: the ids the gateway gave the message, when, and its session."""
    envelope, body = soap_envelope()
    wrapper = etree.SubElement(body, f"{{{ASYNC_TYPES}}}sendMessageResponse", nsmap={"ns2": ASYNC_TYPES})
    response = _el(wrapper, "response")
    _el(response, "messageId", str(message_id))
    _el(response, "correlationId", correlation_id)
    _el(response, "responseDate", when.isoformat())
    _el(response, "sessionId", session)
    return envelope


def request_message(channel: str, *, service_id: str, sender_id: str, data: dict[str, Any],
                    message_date: dt.datetime, message_id: uuid.UUID | str | None = None,
                    correlation_id: str | None = None, message_type: str = "REQUEST", route_id: str | None = None,
                    password: str | None = None, properties: dict[str, str] | None = None,
                    session: str | None = None, prefix: str = "soap") -> etree._Element:
    """A call on ``channel`` (``sync``: ``SendMessage``; ``async``: ``sendMessage``), unsigned, its info in the
    schema's order (which differs: SyncChannel has ``routeId`` after ``messageDate``, AsyncChannel before it, and a
    ``messageType``), ``data`` as JSON text — what a SOAP system sends the gateway (``meshkit.soap``), and what the
    gateway sends a SOAP member (``push_message``, ``sync_request``)."""
    sync = channel == "sync"
    envelope, body = soap_envelope(prefix=prefix)
    namespace = SYNC_TYPES if sync else ASYNC_TYPES
    wrapper = etree.SubElement(body, f"{{{namespace}}}{'SendMessage' if sync else 'sendMessage'}",
                               nsmap={"ns2": namespace})
    request = _el(wrapper, "request")
    info = _el(request, "requestInfo" if sync else "messageInfo")
    if message_id is not None:
        _el(info, "messageId", str(message_id))
    if correlation_id:
        _el(info, "correlationId", correlation_id)
    _el(info, "serviceId", service_id)
    if not sync:
        _el(info, "messageType", message_type)
    if route_id and not sync:
        _el(info, "routeId", route_id)
    _el(info, "messageDate", message_date.isoformat())
    if route_id and sync:
        _el(info, "routeId", route_id)
    sender = _el(info, "sender")
    _el(sender, "senderId", sender_id)
    if password is not None:
        _el(sender, "password", password)
    for key, value in (properties or {}).items():
        prop = _el(info, "properties")
        _el(prop, "key", key)
        _el(prop, "value", value)
    if session is not None:
        _el(info, "sessionId", session)
    _data(_el(request, "requestData" if sync else "messageData"), data)
    return envelope


def push_message(env: Envelope, *, session: str) -> etree._Element:
    """AsyncChannel's ``sendMessage`` the gateway pushes to a SOAP member's own endpoint (its client contract):
    the envelope's fields in ``messageInfo`` (the original sender in ``sender/senderId``), its data as JSON text.
    AsyncChannel has no ERROR: a refusal travels as a RESPONSE with the property ``errorCode``; ``inReplyTo`` and
    ``messageType`` (the mesh's own) are properties too."""
    kind = env.message_type
    properties = {"messageType": kind.value}
    if env.in_reply_to:
        properties["inReplyTo"] = str(env.in_reply_to)
    if kind is MessageType.ERROR:
        properties["errorCode"] = str(env.data.get("code", ""))
    return request_message(
        "async", service_id=env.service_id, sender_id=env.sender, data=env.data, message_date=env.message_date,
        message_id=env.message_id, correlation_id=env.correlation_id, route_id=env.route_id, properties=properties,
        message_type="RESPONSE" if kind is MessageType.ERROR else kind.value, session=session)


def sync_request(env: Envelope, *, session: str) -> etree._Element:
    """SyncChannel's ``SendMessage`` the gateway sends a SOAP member that provides a synchronous service: the
    envelope's fields in ``requestInfo`` (the caller in ``sender/senderId``), its data as JSON text."""
    return request_message("sync", service_id=env.service_id, sender_id=env.sender, data=env.data,
                           message_date=env.message_date, message_id=env.message_id,
                           correlation_id=env.correlation_id, route_id=env.route_id, session=session)


@dataclass(frozen=True)
class SyncAnswer:
    """A SOAP provider's ``SendMessageResponse``, as its signed Body says."""

    message_id: str
    correlation_id: str | None
    code: str
    message: str
    data: dict[str, Any]


def read_sync_answer(body: etree._Element) -> SyncAnswer:
    """``SendMessageResponse`` read from a (verified) Body; ``Client.SoapInvalid`` naming what is missing."""
    response = body.find(f"{{{SYNC_TYPES}}}SendMessageResponse/response")
    if response is None:
        raise _refuse("not a SendMessageResponse")
    info = _child(response, "responseInfo")
    status = _child(info, "status")
    holder = response.find("responseData")
    return SyncAnswer(message_id=str(_text(info, "messageId", required=True)),
                      correlation_id=_text(info, "correlationId"), code=str(_text(status, "code", required=True)),
                      message=_text(status, "message") or "",
                      data=read_data(holder.find("data") if holder is not None else None))


def is_push_accepted(answer: etree._Element) -> bool:
    """Whether a member's answer to a push is ``sendMessageResponse`` (its acknowledgement), not a fault."""
    body = answer.find(f"{{{SOAP11}}}Body")
    return body is not None and len(body) > 0 and body[0].tag == f"{{{ASYNC_TYPES}}}sendMessageResponse"


def fault(*, channel: str, code: str, message: str, when: dt.datetime, session: str,
          data: str | None = None) -> etree._Element:
    """A SOAP 1.1 fault: ``soap:Client`` for the sender's fault, ``soap:Server`` otherwise, the operation's
    ``…Fault1_…Fault`` (ErrorInfo) in ``detail`` carrying the mesh's own code."""
    envelope, body = soap_envelope()
    soap_fault = etree.SubElement(body, f"{{{SOAP11}}}Fault")
    _el(soap_fault, "faultcode", "soap:Client" if code.startswith("Client.") else "soap:Server")
    _el(soap_fault, "faultstring", f"{code}: {message}"[:1000])
    detail = _el(soap_fault, "detail")
    namespace, name = ((SYNC_TYPES, "SendMessageFault1_SendMessageFault") if channel == "sync"
                       else (ASYNC_TYPES, "sendMessageFault1_sendMessageFault"))
    info = etree.SubElement(detail, f"{{{namespace}}}{name}", nsmap={"ns2": namespace})
    _el(info, "errorCode", code)
    _el(info, "errorMessage", message[:1000])
    if data:
        _el(info, "errorData", data[:1000])
    _el(info, "errorDate", when.isoformat())
    _el(info, "sessionId", session)
    return envelope


def to_bytes(envelope: etree._Element) -> bytes:
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")

