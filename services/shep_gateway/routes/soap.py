"""ШЭП's SOAP channels (docs/soap.md): SyncChannel v10 at ``/bip-sync-wss-gost/`` and AsyncChannel v10 at
``/bip-async/`` (the addresses public clients use), each with its WSDL at ``?wsdl``; and the admin route that
issues a SOAP member's credentials. The calls themselves are the SOAP door's (``usecases.soap_door``): a fault is
a SOAP fault with HTTP 500, as SOAP 1.1 has it, never the mesh's JSON error. The channels are described by their
WSDL, not in ``/openapi.json`` (a client generated from that would be a JSON client for an XML service); the
credentials route is JSON and is there."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field

from services.shep_gateway.routes.deps import ADMIN_ONLY, BookDep
from services.shep_gateway.soap.wsdl import ASYNC_PATH, SYNC_PATH, async_wsdl, sync_wsdl
from services.shep_gateway.usecases.soap_door import SoapDoor
from shared.errors import MeshError
from shared.pki.signing import certificate_pem
from shared.pki.xmldsig import MAX_XML_BYTES
from shared.web.http_app import read_body
from shared.web.models import CamelModel
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["soap"])
XML = "text/xml; charset=utf-8"


def door_of(request: Request) -> SoapDoor:
    return cast(SoapDoor, request.app.state.soap_door)


DoorDep = Annotated[SoapDoor, Depends(door_of)]


def _address(request: Request, path: str) -> str:
    return str(request.base_url).rstrip("/") + path


async def _serve(request: Request, door: SoapDoor, *, channel: str) -> Response:
    try:  # bounded as it streams in: a chunked body states no length
        body = await read_body(request, limit=MAX_XML_BYTES, code="Client.TooLarge", what="a SOAP message")
    except MeshError as exc:
        answer = door.refused(channel, exc)
    else:
        answer = await door.handle(body, channel=channel)
    return Response(content=answer.body, status_code=answer.status, media_type=XML)


@router.post(SYNC_PATH, summary="SyncChannel v10: SendMessage", response_class=Response, include_in_schema=False)
async def sync_channel(request: Request, door: DoorDep) -> Response:
    return await _serve(request, door, channel="sync")


@router.post(ASYNC_PATH, summary="AsyncChannel v10: sendMessage", response_class=Response, include_in_schema=False)
async def async_channel(request: Request, door: DoorDep) -> Response:
    return await _serve(request, door, channel="async")


@router.get(SYNC_PATH, summary="SyncChannel v10's WSDL (?wsdl)", response_class=Response, include_in_schema=False)
async def sync_wsdl_route(request: Request) -> Response:
    return Response(content=sync_wsdl(_address(request, SYNC_PATH)), media_type=XML)


@router.get(ASYNC_PATH, summary="AsyncChannel v10's WSDL (?wsdl)", response_class=Response,
            include_in_schema=False)
async def async_wsdl_route(request: Request) -> Response:
    return Response(content=async_wsdl(_address(request, ASYNC_PATH)), media_type=XML)


class SoapCredentialsOut(CamelModel):
    sender_id: str = Field(description="requestInfo/sender/senderId")
    password: str = Field(description="requestInfo/sender/password")
    sync_url: str = Field(description="SyncChannel's address; its WSDL at ?wsdl")
    async_url: str = Field(description="AsyncChannel's address; its WSDL at ?wsdl")
    soap_endpoint: str | None = Field(default=None, description="where the gateway pushes what is addressed to "
                                      "the member")
    gateway_certificate_pem: str = Field(description="the certificate the gateway signs its answers with")


@router.post("/admin/soap/members/{member_id}/credentials", dependencies=ADMIN_ONLY, response_model=SoapCredentialsOut,
             summary="A SOAP member's senderId and password, and what to configure on its side",
             description="For a member registered with `door: soap`. The password is derived from the mesh's "
                         "secret: asking again gives the same one.",
             responses=error_responses("MEMBER_NOT_FOUND", "MEMBER_NOT_SOAP", "GATEWAY_NOT_READY"))
async def soap_credentials(member_id: str, request: Request, door: DoorDep, book: BookDep) -> SoapCredentialsOut:
    member = book.loaded_or_fail().members.get(member_id)
    if member is None:
        raise MeshError("MEMBER_NOT_FOUND", f"no member {member_id!r} in the registry")
    if member.door != "soap":
        raise MeshError("MEMBER_NOT_SOAP", f"{member_id} reaches the gateway by AMQP: register it with door: soap")
    return SoapCredentialsOut(sender_id=member_id, password=door.password_for(member_id),
                              sync_url=_address(request, SYNC_PATH), async_url=_address(request, ASYNC_PATH),
                              soap_endpoint=member.soap_endpoint,
                              gateway_certificate_pem=certificate_pem(book.own_certificate()))
