"""Broker accounts, made by the gateway: its own, a member's when it enrols, НУЦ's (it follows the clock).

See ``shared.mesh.broker_accounts`` for what each account may do. The gateway holds the broker administrator's
login (RabbitMQ's management API, or the in-memory broker of the tests) and no one else does; without one
(``SHEP_BROKER_ADMIN_URL`` unset and a plain broker) accounts are off: everyone shares the login in
``MESH_AMQP_URL``, the gateway says so at start, and deliveries are still sealed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable

from services.shep_gateway.registry_book import RegistryBook
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.broker_accounts import (
    GATEWAY_PERMISSIONS,
    BrokerAdmin,
    BrokerLogin,
    Permissions,
    account_password,
    listener_permissions,
    member_permissions,
)
from shared.mesh.bus import Bus, BusError
from shared.mesh.topology import DEAD_QUEUE, GATEWAY_ID, declare_core, declare_member

log = get_logger(__name__)
LISTENERS = ("nuc",)  # services that are not members but follow the mesh clock


class BrokerAccounts:
    def __init__(self, *, admin: BrokerAdmin | None, secret: str, book: RegistryBook, bus: Bus,
                 administrator: BrokerLogin | None = None, management_url: str | None = None) -> None:
        self._admin = admin
        self._administrator = administrator  # RabbitMQ's administrator login (the in-memory broker has none)
        self._management_url = management_url
        self._secret = secret
        self._book = book
        self._bus = bus
        self._lock = asyncio.Lock()

    @property
    def enforced(self) -> bool:
        return self._admin is not None

    async def own_login(self) -> BrokerLogin | None:
        """The gateway's login (made if missing); None when accounts are off (the URL's login is used)."""
        if self._admin is None:
            log.warning("broker_accounts_off", reason="no broker administrator configured (SHEP_BROKER_ADMIN_URL): "
                        "every service shares the login of MESH_AMQP_URL")
            return None
        return await self._ensure(GATEWAY_ID, GATEWAY_PERMISSIONS)

    async def login_for(self, account: str) -> tuple[BrokerLogin, Permissions]:
        """A member's (or a listener's) login, with its queues declared and bound to its delivery routes."""
        if self._admin is None:
            raise MeshError("BROKER_ACCOUNTS_OFF", "the gateway has no broker administrator: accounts are off, use "
                            "the login of MESH_AMQP_URL")
        if account == GATEWAY_ID:
            raise MeshError("ACCOUNT_RESERVED", "the gateway's broker account is its own")
        if account in LISTENERS:
            await self._declared(declare_core(self._bus))  # the clock exchange it binds to
            permissions = listener_permissions(account)
            return await self._ensure(account, permissions), permissions
        if account not in self._book.loaded_or_fail().members:
            raise MeshError("MEMBER_NOT_FOUND", f"{account!r} is not a registered member: enrol it first")
        await self._declared(declare_member(self._bus, member_id=account))
        permissions = member_permissions(account)
        return await self._ensure(account, permissions), permissions

    @staticmethod
    async def _declared(declaring: Awaitable[None]) -> None:
        """Queues and exchanges declared on the gateway's broker connection; while it has none yet (the gateway
        starting beside the broker, or reconnecting) the caller is told to try again — 503 GATEWAY_NOT_READY, which
        every member's start-up step retries — not answered 500 with the connection's error."""
        try:
            await declaring
        except BusError as exc:
            raise MeshError("GATEWAY_NOT_READY", f"the gateway is not connected to the broker yet: {exc}"[:300]) \
                from exc

    def administrator(self) -> tuple[BrokerLogin, str]:
        """The broker administrator's login and the management UI it opens, for the admin token holder."""
        if self._administrator is None or self._management_url is None:
            raise MeshError("BROKER_ADMIN_NOT_CONFIGURED", "this gateway holds no broker administrator's login "
                            "(SHEP_BROKER_ADMIN_URL unset, or an in-process broker)")
        return self._administrator, self._management_url

    async def remove_guest(self) -> None:
        """RabbitMQ's ``guest`` — an administrator with a well-known password — must not exist: a broker that
        still has it (a data directory or a compose volume from before) has it deleted."""
        if self._admin is not None and await self._admin.delete_user(user="guest"):
            log.warning("broker_guest_deleted", reason="the broker still had guest; only members' accounts and the "
                        "gateway's administrator may log in")

    async def bound_dead_letters(self, *, max_length: int, max_bytes: int) -> None:
        """A broker policy on mesh.dead-letters: at most so many messages and bytes, the oldest dropped first.
        A policy, not queue arguments: it applies to a queue that exists already (an older ``var/``)."""
        if self._admin is None:
            log.warning("dead_letters_unbounded", reason="no broker administrator to set the policy")
            return
        await self._admin.set_policy(name="mesh-dead-letters-bound", pattern=f"^{re.escape(DEAD_QUEUE)}$",
                                     definition={"max-length": max_length, "max-length-bytes": max_bytes,
                                                 "overflow": "drop-head"})

    async def _ensure(self, account: str, permissions: Permissions) -> BrokerLogin:
        assert self._admin is not None
        login = BrokerLogin(user=account, password=account_password(secret=self._secret, account=account))
        async with self._lock:
            await self._admin.put_user(login=login)
            await self._admin.set_permissions(user=account, permissions=permissions)
        log.info("broker_account_ready", account=account)
        return login
