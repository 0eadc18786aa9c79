"""The portal's HTTP routes, one module-level ``APIRouter`` per resource (``ROUTERS``), their dependencies in
``services.portal.deps``."""

from __future__ import annotations

from services.portal.routes import admin, applications, cabinet, documents, login, mail, organisations, registration

ROUTERS = (registration.router, login.router, cabinet.router, applications.router, documents.router,
           organisations.router, admin.router, mail.router)
