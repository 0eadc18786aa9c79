"""A whole mesh for end-to-end tests: a private RabbitMQ node and the six services as real processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from meshkit.mesh_runner import MeshConfig, MeshRunner
from meshkit.private_mesh import start_services, write_mesh_file
from meshkit.rabbit_node import RabbitNode
from meshkit.sdk import Mesh, MeshInfo
from shared.mesh.bus import Bus
from shared.mesh.bus_rabbit import RabbitBus
from shared.mesh.topology import DEAD_QUEUE, H_REFUSAL_CODE, H_REFUSAL_REASON, declare_core

ADMIN_TOKEN = "e2e-admin-token-0123456789"
KEY_PASSPHRASE = "e2e-key-passphrase-0123456789"


@dataclass
class MeshHandle:
    runner: MeshRunner
    config: MeshConfig
    rabbit: RabbitNode

    def url(self, service: str) -> str:
        return self.config.url(service)

    @property
    def ocsp_max_age_s(self) -> float:
        return float(self.config.extra_env.get("MESH_OCSP_MAX_AGE_S", 60))

    @property
    def admin_token(self) -> str:
        return self.config.admin_token

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.admin_token}"}

    @property
    def gateway(self) -> str:
        return self.url("shep_gateway")

    @property
    def nuc(self) -> str:
        return self.url("nuc_pki")

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=30)

    def new_bus(self, connection_name: str) -> Bus:
        return RabbitBus(url=self.rabbit.amqp_url, connection_name=connection_name)

    def database(self, service: str) -> Path:
        """A service's SQLite database, to read or tamper with as an operator with sqlite3 would."""
        return self.config.var_dir / service / f"{service}.db"

    def write_mesh_file(self, path: Path) -> Path:
        """This mesh as `make run` describes one in var/mesh.json, for meshctl and scripts."""
        return write_mesh_file(path, self.config, amqp_url=self.rabbit.service_url)

    def kit(self) -> Mesh:
        """The scripting kit (meshkit.sdk) pointed at this mesh."""
        return Mesh(MeshInfo(gateway=self.gateway, nuc=self.nuc, portal=self.url("portal"),
                             gbd_fl=self.url("gbd_fl"), con=self.url("con_operator"),
                             mio=self.url("mio_workstation"), admin_token=self.admin_token,
                             amqp_url=self.rabbit.service_url))


def start_mesh(*, var_dir: Path, rabbit: RabbitNode, extra_env: dict[str, str] | None = None,
               database_urls: dict[str, str] | None = None, only: list[str] | None = None) -> MeshHandle:
    runner, config = start_services(var_dir=var_dir, rabbit=rabbit, admin_token=ADMIN_TOKEN,
                                    key_passphrase=KEY_PASSPHRASE, extra_env=extra_env, database_urls=database_urls,
                                    only=only)
    return MeshHandle(runner=runner, config=config, rabbit=rabbit)


@contextmanager
def private_mesh(factory: pytest.TempPathFactory, *, name: str, extra_env: dict[str, str] | None = None,
                 database_urls: dict[str, str] | None = None, only: list[str] | None = None) -> Iterator[MeshHandle]:
    """A mesh on a broker of its own, for tests that change what the session's mesh shares (clock, broker).

    Its НУЦ makes P-256 keys for holders (``NUC_HOLDER_KEYS=ec``): seeding staff and operators and minting
    citizens take a fraction of the RSA time, and the verifiers take both. Its services hash new passwords at
    argon2id's cheap cost (``MESH_ARGON2_COST=cheap``, as the in-process mesh): every citizen a test registers
    costs a hash. The session's mesh keeps RSA-2048 and the standard cost, as `make run` does, so the suite still
    carries both end to end (openssl included).

    The broker boots while the services import (``RabbitNode.launch``): each waits for it at its «broker» step."""
    rabbit = RabbitNode.launch(base_dir=factory.mktemp(f"{name}-rabbit"))
    try:
        handle = start_mesh(var_dir=factory.mktemp(f"{name}-mesh"), rabbit=rabbit,
                            extra_env={"NUC_HOLDER_KEYS": "ec", "MESH_ARGON2_COST": "cheap"} | (extra_env or {}),
                            database_urls=database_urls, only=only)
    except Exception:
        rabbit.stop(graceful=False)
        raise
    try:
        yield handle
    finally:
        handle.runner.stop()
        rabbit.stop(graceful=False)  # its data goes with the test's temporary directory


async def drain_dead_letters(mesh: MeshHandle) -> list[dict[str, Any]]:
    """Everything in the mesh's dead-letter queue (taken off it), with the refusal code and reason."""
    bus = RabbitBus(url=mesh.rabbit.amqp_url, connection_name="tests-drain-dead-letters")
    await bus.connect()
    await declare_core(bus)
    found = []
    while (delivery := await bus.get(queue=DEAD_QUEUE)) is not None:
        found.append({"messageId": delivery.message_id, "code": delivery.headers.get(H_REFUSAL_CODE),
                      "reason": delivery.headers.get(H_REFUSAL_REASON)})
        await delivery.ack()
    await bus.close()
    return found
