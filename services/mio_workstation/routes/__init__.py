"""ИС МИО's HTTP API, one router per resource: regulations and districts, staff logins, a district's inbox,
applications and their actions, «Еңбек нарығы», and the test support under /admin. Each route reaches the use cases
through ``deps`` (``request.app.state.mio``) and answers a closed model of ``schemas``."""

from __future__ import annotations

from fastapi import APIRouter

from services.mio_workstation.routes import admin, applications, inbox, register, regulations, staff

ROUTERS: tuple[APIRouter, ...] = (regulations.router, staff.router, inbox.router, applications.router,
                                  register.router, admin.router)
