"""ИС ЦОН's HTTP routes, one router per resource; each reaches the service's objects through ``deps.py``."""

from __future__ import annotations

from fastapi import APIRouter

from services.con_operator.routes import admin, branches, notices, operators, results, scans, tickets, visits

ROUTERS: tuple[APIRouter, ...] = (branches.router, tickets.router, operators.router, scans.router, visits.router,
                                  results.router, notices.router, admin.router)
