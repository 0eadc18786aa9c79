"""A private RabbitMQ node: its own name, ports (AMQP, distribution, epmd) and data directory.

Nothing is shared with a system RabbitMQ, so tests and ``make run`` can run beside one another and beside
a broker the machine already has.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from meshkit.child import wrap
from meshkit.ports import free_port, wait_for_port

_CANDIDATES = ("/usr/lib/rabbitmq/bin/rabbitmq-server",)


class RabbitUnavailable(RuntimeError):
    pass


def rabbitmq_server_path() -> str:
    for candidate in _CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("rabbitmq-server")
    if found:
        return found
    raise RabbitUnavailable(
        "RabbitMQ is not installed. As root, `make run`/`make test` install it with apt-get "
        "(apt-get install rabbitmq-server); otherwise install it yourself and retry.")


@dataclass
class RabbitNode:
    """``guest`` is the node's administrator: the gateway alone uses it, through the management API, to make
    each member's own account (``shared.broker_accounts``); services connect with those accounts."""

    base_dir: Path
    amqp_port: int
    dist_port: int
    epmd_port: int
    node_name: str
    management_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def amqp_url(self) -> str:
        """The administrator's URL (for tests and operators, never given to a service)."""
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    @property
    def service_url(self) -> str:
        """The URL services get: no login in it — each asks the gateway for its own."""
        return f"amqp://127.0.0.1:{self.amqp_port}/"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    def _env(self) -> dict[str, str]:
        b = self.base_dir
        return {
            **os.environ,
            "HOME": str(b),  # the Erlang cookie lives here, not in the user's home
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(b / "mnesia"),
            "RABBITMQ_LOG_BASE": str(b / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(b / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(b / "rabbit.pid"),
            "RABBITMQ_CONFIG_FILE": str(b / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(b / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(b / "rabbitmq-env.conf"),
        }

    @classmethod
    def start(cls, *, base_dir: Path, amqp_port: int | None = None, timeout_s: float = 90.0) -> RabbitNode:
        rabbitmq_server_path()  # say now, plainly, if RabbitMQ is not installed
        base_dir.mkdir(parents=True, exist_ok=True)
        management_port = free_port()
        (base_dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (base_dir / "rabbitmq.conf").write_text(
            "disk_free_limit.absolute = 50MB\n"
            f"management.tcp.port = {management_port}\nmanagement.tcp.ip = 127.0.0.1\n")
        (base_dir / "rabbitmq-env.conf").write_text("")
        name_file = base_dir / "node-name"
        if not name_file.exists():  # the node's name is part of its data directory; keep it across restarts
            name_file.write_text(f"mesh-{uuid.uuid4().hex[:8]}@localhost")
        node = cls(base_dir=base_dir, amqp_port=amqp_port or free_port(), dist_port=free_port(),
                   epmd_port=free_port(), node_name=name_file.read_text().strip(), management_port=management_port)
        node.spawn()
        if not wait_for_port(node.amqp_port, timeout_s=timeout_s) or node.process.poll() is not None:
            node.stop()
            tail = (base_dir / "server.out").read_text(errors="replace")[-2000:]
            raise RabbitUnavailable(f"RabbitMQ did not start within {timeout_s:g}s; its output ends with:\n{tail}")
        return node

    def spawn(self) -> None:
        """Start the node's process (it dies with this process: ``meshkit.child``); does not wait for it."""
        log = (self.base_dir / "server.out").open("ab")
        self.process = subprocess.Popen(wrap([rabbitmq_server_path()]), env=self._env(), stdout=log,  # noqa: S603
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL: the broker dies mid-whatever, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, *, graceful: bool = True) -> None:
        """Stop the node: by default as an operator would (SIGTERM: it flushes and closes, some seconds);
        ``graceful=False`` when what it holds is thrown away with it (a test's private broker at teardown)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM if graceful else signal.SIGKILL)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        epmd = shutil.which("epmd")
        if epmd:  # epmd daemonises itself; stop ours (and only ours: it listens on our private port)
            subprocess.run([epmd, "-kill"], env=self._env(), capture_output=True, check=False, timeout=10)  # noqa: S603

    def restart(self, *, timeout_s: float = 90.0, wait: bool = True) -> None:
        self.stop()
        time.sleep(0.5)
        self.spawn()
        if wait and not wait_for_port(self.amqp_port, timeout_s=timeout_s):
            raise RabbitUnavailable("RabbitMQ did not come back after a restart")
