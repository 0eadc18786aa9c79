"""Reading the mesh's SMS and e-mail outbox (member ``mail``, services/portal/mailbox.py): test support."""

from __future__ import annotations

from sqlmodel import col, select

from services.portal.mailbox import MailMessage
from shared.db import Sessions
from shared.errors import MeshError


class MailOutbox:
    def __init__(self, *, sessions: Sessions) -> None:
        self._sessions = sessions

    async def messages(self, *, to: str | None = None, kind: str | None = None,
                       application_number: str | None = None,
                       correlation_id: str | None = None) -> list[MailMessage]:
        """Every message that fits the filters given, oldest first."""
        query = select(MailMessage).order_by(col(MailMessage.received_at), col(MailMessage.id))
        if to:
            query = query.where(MailMessage.address == to)
        if kind:
            query = query.where(MailMessage.kind == kind)
        if application_number:
            query = query.where(MailMessage.application_number == application_number)
        if correlation_id:
            query = query.where(MailMessage.correlation_id == correlation_id)
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    async def message(self, mail_id: int) -> MailMessage:
        async with self._sessions() as session:
            mail = await session.get(MailMessage, mail_id)
        if mail is None:
            raise MeshError("MAIL_NOT_FOUND", f"no message {mail_id} in the outbox")
        return mail
