"""``GET /mesh``: where the mesh's services are, as ``var/mesh.json`` says for ``make run`` — so a script or
``meshctl --url`` that knows one address (the gateway's) finds the rest, wherever the mesh runs.

The URLs answer the caller where it is. The services' own addresses (``MESH_SERVICE_URLS``: ``name=url,…``) are
what a caller inside the mesh uses — under ``make run`` that is every caller. A caller that reached this service
by another host name (a tester on the host of a docker compose mesh, at ``localhost:18002``) gets that host name
with each service's published port (``MESH_PUBLISHED_PORTS``: ``name=port,…``; ``amqp`` is the broker's).
The admin token is in the answer only for a caller that gave it (``Authorization: Bearer <admin token>``);
a wrong one is refused."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.web.admin_auth import admin_or_anonymous
from shared.web.models import CamelModel, ClosedModel


def _pairs(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {name.strip(): value.strip() for name, value in pairs if name.strip() and value.strip()}


def service_urls(listed: str = "") -> dict[str, str]:
    """``name=url,…`` as a dict (``listed``, else ``MESH_SERVICE_URLS``): where each service of the mesh is, as its
    members reach it — read once by whoever asks the other services over HTTP."""
    return {name: url.rstrip("/") for name, url in _pairs(listed or DescriptorSettings().service_urls).items()}


class DescriptorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MESH_", extra="ignore")

    service_urls: str = Field(default="", description="name=url,… each service as the mesh's members reach it")
    published_ports: str = Field(default="", description="name=port,… each service's port on the host that "
                                 "publishes the mesh (docker compose); amqp=port for the broker")
    amqp_url: str = "amqp://127.0.0.1:5672/"


class ServiceAddress(ClosedModel):
    url: str


class MeshDescriptor(CamelModel):
    services: dict[str, ServiceAddress]
    amqp_url: str | None = Field(default=None, description="the broker, without a login (each member has its own)")
    admin_token: str | None = Field(default=None, description="only for a caller that gave it")


def _without_login(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path or '/'}"


def describe(settings: DescriptorSettings, *, host: str | None) -> MeshDescriptor:
    """The descriptor for a caller that reached this service as ``host`` (the request's host name)."""
    urls = _pairs(settings.service_urls)
    ports = _pairs(settings.published_ports)
    inside = {urlsplit(url).hostname for url in urls.values()}
    amqp = _without_login(settings.amqp_url)
    if ports and host and host not in inside:
        services = {name: ServiceAddress(url=f"http://{host}:{ports[name]}") for name in urls if name in ports}
        amqp = f"amqp://{host}:{ports['amqp']}/" if "amqp" in ports else amqp
    else:
        services = {name: ServiceAddress(url=url) for name, url in urls.items()}
    return MeshDescriptor(services=services, amqp_url=amqp)


def mesh_descriptor_router(*, token: Callable[[], str]) -> APIRouter:
    router = APIRouter(tags=["mesh"])
    holder = admin_or_anonymous(token=token)

    @router.get("/mesh", response_model=MeshDescriptor, response_model_exclude_none=True,
                summary="Where the mesh's services are (var/mesh.json's services, amqpUrl and adminToken)")
    def mesh(request: Request, is_holder: bool = Depends(holder)) -> MeshDescriptor:
        answer = describe(DescriptorSettings(), host=request.url.hostname)
        if is_holder:
            answer.admin_token = token()
        return answer

    return router
