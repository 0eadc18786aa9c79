"""Where `make bench` writes its figures (var/bench/NAME.json) and how it prints them; the private broker and mesh
settings each bench starts from."""

from __future__ import annotations

import json
import secrets
import shutil
from typing import Any

from meshkit.mesh_runner import REPO_ROOT, SERVICES, MeshConfig
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
