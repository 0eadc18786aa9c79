"""Reading the mesh's SMS and e-mail outbox (member ``mail``, ``usecases.mail_outbox``): test support, behind the
admin token."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from services.portal.deps import ADMIN, PortalDep
from services.portal.schemas.mail import MailListOut, MailOut, mail_out
from shared.web.http_app import SQL_INT_MAX
from shared.web.openapi_errors import error_responses

router = APIRouter()


@router.get("/admin/mail", tags=["test support"], dependencies=ADMIN, response_model=MailListOut,
            summary="The mesh's SMS and e-mail outbox (member `mail`), oldest first (admin)",
            description="Every e-mail and SMS a member sent through the gateway (`mesh.mail`), with the sender "
                        "the gateway proved; attachments by name and size (their content: `GET /admin/mail/{id}`).")
async def mail_list(portal: PortalDep, to: Annotated[str | None, Query(max_length=254)] = None,
                    kind: Annotated[Literal["email", "sms"] | None, Query()] = None,
                    application_number: Annotated[str | None, Query(alias="applicationNumber", max_length=32)] = None,
                    correlation_id: Annotated[str | None, Query(alias="correlationId", max_length=128)] = None,
                    ) -> MailListOut:
    found = await portal.mail.messages(to=to, kind=kind, application_number=application_number,
                                       correlation_id=correlation_id)
    return MailListOut(mail=[mail_out(m, content=False) for m in found])


@router.get("/admin/mail/{mail_id}", tags=["test support"], dependencies=ADMIN, response_model=MailOut,
            summary="One message of the outbox, with its attachments' content (admin)",
            responses=error_responses("MAIL_NOT_FOUND"))
async def mail_one(mail_id: Annotated[int, Path(ge=1, le=SQL_INT_MAX)], portal: PortalDep) -> MailOut:
    # an id beyond 64 bits is refused by its bound (422 REQUEST_INVALID), never handed to the database (a 500)
    return mail_out(await portal.mail.message(mail_id), content=True)
