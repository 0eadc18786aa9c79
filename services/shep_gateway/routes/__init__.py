"""The gateway's HTTP routes, one router per resource: metaservices (members, services, the certificate), the mesh
clock, the message log and deliveries, registry administration, broker accounts, resets and snapshots, a case
explained, scenarios. Each reaches the gateway's objects through ``deps`` (``request.app.state``), so a router is a
module-level object, not a closure."""

from __future__ import annotations

from fastapi import APIRouter

from services.shep_gateway.routes import (
    broker,
    clock,
    explain,
    message_log,
    metaservices,
    registry,
    reset,
    scenarios,
    settle,
    soap,
)

ROUTERS: tuple[APIRouter, ...] = (metaservices.router, clock.router, message_log.router, registry.router,
                                  broker.router, reset.router, explain.router, scenarios.router, settle.router,
                                  soap.router)
