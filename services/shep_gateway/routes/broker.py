"""Broker accounts (admin token): a member's own login, made if missing; the broker administrator's."""

from __future__ import annotations

from fastapi import APIRouter

from services.shep_gateway.routes.deps import ADMIN_ONLY, AccountsDep
from services.shep_gateway.routes.models import BrokerAdministratorOut, BrokerLoginOut, BrokerPermissionsOut
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["registry"], dependencies=ADMIN_ONLY)


@router.post("/admin/broker-accounts/{account}", summary="A member's own broker login (made if missing)",
             description="The account may publish only to `shep.ingress` (and the dead-letter exchange, its own "
                         "retry tiers), read and declare only its own queues. The member's queues are declared "
                         "and bound to its delivery routes. 409 BROKER_ACCOUNTS_OFF when the gateway has no "
                         "broker administrator; 404 MEMBER_NOT_FOUND before the member is in the registry.",
             responses=error_responses("ACCOUNT_RESERVED", "MEMBER_NOT_FOUND", "BROKER_ACCOUNTS_OFF",
                                       "GATEWAY_NOT_READY"))
async def broker_account(account: str, accounts: AccountsDep) -> BrokerLoginOut:
    login, permissions = await accounts.login_for(account)
    return BrokerLoginOut(user=login.user, password=login.password, permissions=BrokerPermissionsOut(
        configure=permissions.configure, write=permissions.write, read=permissions.read))


@router.get("/admin/broker/administrator", summary="The broker administrator's login (admin token)",
            description="The one administrator of the broker (there is no guest): the gateway's, to make members' "
                        "accounts; testers use it for the management UI. 404 BROKER_ADMIN_NOT_CONFIGURED when "
                        "the gateway has none (an in-process broker).",
            responses=error_responses("BROKER_ADMIN_NOT_CONFIGURED"))
async def broker_administrator(accounts: AccountsDep) -> BrokerAdministratorOut:
    login, management_url = accounts.administrator()
    return BrokerAdministratorOut(user=login.user, password=login.password, management_url=management_url)
