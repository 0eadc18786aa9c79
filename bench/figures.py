"""Where `make bench` writes its figures (var/bench/NAME.json) and how it prints them; the private broker and mesh
settings each bench starts from."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from meshkit.load import HttpClients
from meshkit.mesh_runner import REPO_ROOT, SERVICES, MeshConfig, MeshRunner
from meshkit.ports import free_port
from meshkit.rabbit_node import RabbitNode

OUT = REPO_ROOT / "var" / "bench"


def write_figures(name: str, figures: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    print(f"\nwritten to {path.relative_to(REPO_ROOT)}")


def private_mesh(work: str, *, extra_env: dict[str, str] | None = None) -> tuple[RabbitNode, MeshConfig]:
    """A fresh RabbitMQ node under var/bench/WORK and a mesh's settings on it (test mode, free ports, fresh
    secrets, quiet logs): the bench starts the services it wants with ``MeshRunner(config, only=…)``."""
    shutil.rmtree(OUT / work, ignore_errors=True)
    node = RabbitNode.start(base_dir=OUT / work / "rabbitmq")
    config = MeshConfig(var_dir=OUT / work / "mesh", amqp_url=node.service_url,
                        broker_management_url=node.management_url, broker_admin=(node.admin.user, node.admin.password),
                        admin_token=secrets.token_urlsafe(16), key_passphrase=secrets.token_urlsafe(16),
                        ports={s.name: free_port() for s in SERVICES}, mesh_env="test",
                        extra_env={"MESH_LOG_LEVEL": "WARNING", **(extra_env or {})})
    return node, config


@dataclass
class WholeMesh:
    config: MeshConfig
    clients: HttpClients
    roots: dict[str, int]  # each service's process and the broker's, for CpuMeter and tree_rss_mb


@asynccontextmanager
async def whole_mesh(work: str) -> AsyncIterator[WholeMesh]:
    """The six services on a fresh private broker under var/bench/WORK, ready; stopped (clients closed) at the end."""
    node, config = private_mesh(work)
    runner = MeshRunner(config)
    clients = HttpClients({s.name: config.url(s.name) for s in SERVICES}, admin_token=config.admin_token)
    try:
        runner.start()
        runner.wait_ready(timeout_s=180)
        assert node.process is not None
        roots = {s.name: p.pid for s in SERVICES if (p := runner[s.name].process) is not None}
        yield WholeMesh(config=config, clients=clients, roots={**roots, "rabbitmq": node.process.pid})
    finally:
        await clients.aclose()
        runner.stop()
        node.stop()
