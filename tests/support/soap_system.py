"""A tester's own system on ШЭП's SOAP channels, in a test: its endpoint (an ASGI app the gateway calls) that checks
the gateway's signature on each call, keeps what came, acknowledges a pushed ``sendMessage`` with
``sendMessageResponse`` and — a provider of a synchronous service — answers ``SendMessage`` with a
``SendMessageResponse`` signed with its own key: the member side of docs/soap.md."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from fastapi import FastAPI, Request, Response
from lxml import etree

from meshkit.soap import SoapMember
from shared.mesh.soap_channels import ASYNC_TYPES, SYNC_TYPES, async_response, session_guid, sync_response, to_bytes
from shared.pki.xmldsig import parse_xml, verify_body

PUSH_PATH = "/AsyncChannelClient"


@dataclass
class Pushed:
    """One ``sendMessage`` the gateway pushed, as its signed Body says."""

    info: dict[str, str]
    data: dict[str, Any]


@dataclass
class SoapEndpoint:
    gateway_certificate: x509.Certificate | None = None
    received: list[Pushed] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    # a synchronous provider: what it answers a request with, and who signs the answer (its own key)
    provide: Callable[[Pushed], dict[str, Any]] | None = None
    member: SoapMember | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post(PUSH_PATH)
        async def push(request: Request) -> Response:
            try:
                signed = verify_body(parse_xml(await request.body()))
                assert signed.verified.signer == self.gateway_certificate, "not signed by the gateway"
            except Exception as exc:  # a push not from the gateway: kept aside, answered with a fault
                self.refused.append(str(exc))
                return Response(status_code=500, content=b"<refused/>", media_type="text/xml")
            call = _read(signed.body)
            if signed.body.find(f"{{{SYNC_TYPES}}}SendMessage") is not None:
                return self._answer(call)
            self.received.append(call)
            self._arrived.set()
            answer = async_response(message_id=uuid.UUID(call.info["messageId"]),
                                    correlation_id=call.info["correlationId"],
                                    when=dt.datetime.now(dt.UTC), session=session_guid())
            return Response(content=to_bytes(answer), media_type="text/xml; charset=utf-8")
        return app

    def _answer(self, request: Pushed) -> Response:
        """``SendMessageResponse``: what ``provide`` makes of the request, signed with the member's own key."""
        assert self.provide is not None, "not a synchronous provider"
        assert self.member is not None, "no key to sign the answer with"
        self.received.append(request)
        answer = sync_response(message_id=uuid.uuid4(), correlation_id=request.info["correlationId"],
                               data=self.provide(request), when=dt.datetime.now(dt.UTC), session=session_guid())
        return Response(content=self.member.signed(answer), media_type="text/xml; charset=utf-8")

    async def wait_for(self, condition: Any, *, timeout_s: float = 30.0) -> Pushed:
        """The first push that meets ``condition`` (pushes arrive in their own time)."""
        async def first() -> Pushed:
            while True:
                found = next((p for p in self.received if condition(p)), None)
                if found is not None:
                    return found
                self._arrived.clear()
                await self._arrived.wait()
        return await asyncio.wait_for(first(), timeout=timeout_s)


def _read(body: etree._Element) -> Pushed:
    """A call the gateway made — ``sendMessage`` pushed, or ``SendMessage`` to a provider — as its Body says."""
    sync = body.find(f"{{{SYNC_TYPES}}}SendMessage") is not None
    request = body.find(f"{{{SYNC_TYPES}}}SendMessage/request" if sync else f"{{{ASYNC_TYPES}}}sendMessage/request")
    assert request is not None
    info = request.find("requestInfo" if sync else "messageInfo")
    fields = {child.tag: (child.text or "") for child in info if child.tag not in ("sender", "properties")}
    fields["sender"] = info.findtext("sender/senderId") or ""
    data = request.findtext("requestData/data" if sync else "messageData/data")
    return Pushed(info=fields, data=json.loads(data or "{}"))
