"""Hand the result out. At the office (seed: «выдача сотрудником МИО нарочно или посредством отправки на
электронную почту потребителя результата») in person, or by e-mail with the signed document attached; an
application of the portal or ИС ЦОН is handed out there, so ``delivery`` is not the МИО's to choose. Where the
regulation says so (004 п. 5), the result is also told by SMS."""

from __future__ import annotations

from dataclasses import replace

from services.mio_workstation.usecases.actions.base import (
    ActionRequest,
    Facilities,
    Issued,
    Prepared,
    StepAction,
    is_email,
)
from shared.employment.regulations import Action
from shared.errors import MeshError


def _check_email(request: ActionRequest) -> None:
    app, body = request.app, request.body
    if body.email is not None and body.delivery != "email":
        raise MeshError("EMAIL_WITHOUT_DELIVERY", "an e-mail address goes with delivery 'email'")
    if body.delivery == "email":
        address = body.email or app.form.get("email")
        if not address:
            raise MeshError("EMAIL_REQUIRED", f"the form of {app.number} gives no e-mail: send 'email' with "
                            "delivery 'email', or hand the result out in person")
        if not is_email(address):
            raise MeshError("EMAIL_INVALID", "the e-mail address is not one (name@example.kz)")


def _delivery(request: ActionRequest) -> Issued:
    app, body = request.app, request.body
    if app.channel != "office":
        return Issued()
    if request.actor is None:  # simulated staff e-mail the result when the form gives a (valid) address
        address = app.form.get("email")
        return Issued(delivery="email", address=address) if is_email(address) else Issued(delivery="in_person")
    if body.delivery == "email":
        return Issued(delivery="email", address=body.email or app.form.get("email"))
    return Issued(delivery="in_person")


class Issue(StepAction):
    action = Action.ISSUE

    def check(self, request: ActionRequest) -> None:
        app, body = request.app, request.body
        if app.channel == "office":
            _check_email(request)
        elif body.delivery is not None or body.email is not None:
            raise MeshError("DELIVERY_NOT_OFFICE", f"application {app.number} came through «{app.channel}»: its "
                            "result is handed out there, not by the МИО (delivery is for office applications)")

    async def prepare(self, request: ActionRequest, facilities: Facilities) -> Prepared:
        issued = _delivery(request)
        if request.regulation.notify_by_sms:
            phone = request.app.form.get("phone") or await facilities.registries.phone_of(request.app)
            return replace(issued, sms_to=phone) if phone else issued
        return issued
