"""A mesh of its own: the six services on free loopback ports under one directory, on a RabbitMQ node of its own —
as the test suite (tests/support/mesh.py) and the pytest plugin's ``--egov-mesh start`` (meshkit/pytest_plugin.py)
start one — and the ``mesh.json`` that describes it to ``meshctl`` and the kit, as `make run` writes var/mesh.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from meshkit.mesh_runner import SERVICES, MeshConfig, MeshRunner
from meshkit.ports import free_port
from meshkit.rabbit_node import RabbitNode


def mesh_description(config: MeshConfig, *, amqp_url: str) -> dict[str, Any]:
    """What var/mesh.json says of a mesh: each service's URL, the admin token, the broker's AMQP URL."""
    return {"services": {name: {"url": config.url(name)} for name in config.ports},
            "adminToken": config.admin_token, "amqpUrl": amqp_url}


def write_mesh_file(path: Path, config: MeshConfig, *, amqp_url: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mesh_description(config, amqp_url=amqp_url)))
    return path


def start_services(*, var_dir: Path, rabbit: RabbitNode, admin_token: str, key_passphrase: str,
                   extra_env: dict[str, str] | None = None, database_urls: dict[str, str] | None = None,
                   only: list[str] | None = None, ready_timeout_s: float = 120.0) -> tuple[MeshRunner, MeshConfig]:
    """The services on ``rabbit`` (a node launched just before boots while they import: each waits for it at its
    «broker» step), ready; stopped again if they do not become so."""
    config = MeshConfig(var_dir=var_dir, amqp_url=rabbit.service_url, admin_token=admin_token,
                        broker_management_url=rabbit.management_url,
                        broker_admin=(rabbit.admin.user, rabbit.admin.password),
                        key_passphrase=key_passphrase, ports={s.name: free_port() for s in SERVICES},
                        mesh_env="test", extra_env=extra_env or {}, database_urls=database_urls or {})
    runner = MeshRunner(config, only=only)
    runner.start()
    try:
        rabbit.wait_started()
        runner.wait_ready(timeout_s=ready_timeout_s)
    except BaseException:
        runner.stop()
        raise
    return runner, config
