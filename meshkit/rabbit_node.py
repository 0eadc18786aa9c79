"""A private RabbitMQ node: its own name, ports (AMQP, distribution, epmd) and data directory.

Nothing is shared with a system RabbitMQ, so tests and ``make run`` can run beside one another and beside
a broker the machine already has.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

from meshkit.child import wrap
from meshkit.ports import free_port, wait_for_port
from meshkit.private_files import write_private
from shared.mesh.broker_accounts import BrokerLogin, with_login

ADMIN_USER = "mesh"  # the node's administrator: the gateway's alone (compose calls it the same)

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


def new_admin_login() -> BrokerLogin:
    """A fresh administrator's login for a node of its own (the tests' brokers, the benchmark's)."""
    return BrokerLogin(user=ADMIN_USER, password=secrets.token_urlsafe(24))


@dataclass
class RabbitNode:
    """A node whose only administrator is ``admin`` — a login made for this mesh (``make run`` keeps its password
    in var/secrets.json) — and which has no ``guest``: the node is created with ``admin`` as its default user, and
    a data directory from before that still holds ``guest`` has it deleted at start. The gateway alone uses the
    administrator, through the management API, to make each member's own account (``shared.mesh.broker_accounts``);
    services connect with those accounts."""

    base_dir: Path
    amqp_port: int
    dist_port: int
    epmd_port: int
    node_name: str
    management_port: int = 0
    admin: BrokerLogin = field(default_factory=new_admin_login)
    process: subprocess.Popen[bytes] | None = None

    @property
    def amqp_url(self) -> str:
        """The administrator's URL (for tests and operators, never given to a service)."""
        return with_login(self.service_url, self.admin)

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
    def start(cls, *, base_dir: Path, amqp_port: int | None = None, timeout_s: float = 90.0,
              admin: BrokerLogin | None = None) -> RabbitNode:
        """``admin``: the administrator's login (``make run`` passes the one it keeps); a new one when None."""
        node = cls.launch(base_dir=base_dir, amqp_port=amqp_port, admin=admin)
        node.wait_started(timeout_s=timeout_s)
        return node

    @classmethod
    def launch(cls, *, base_dir: Path, amqp_port: int | None = None, admin: BrokerLogin | None = None) -> RabbitNode:
        """The node's process started, not waited for: its ports and administrator are known at once, so the
        services can be started beside it — each waits for the broker at its own «broker» step, and the Erlang
        node's seconds of booting overlap the services' seconds of importing. ``wait_started`` before the node is
        called up."""
        rabbitmq_server_path()  # say now, plainly, if RabbitMQ is not installed
        base_dir.mkdir(parents=True, exist_ok=True)
        management_port = free_port()
        admin = admin or new_admin_login()
        (base_dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        # default_user replaces guest when the node makes its database (a fresh data directory): guest never exists.
        # The file holds the administrator's password: its owner's alone, as var/secrets.json.
        write_private(base_dir / "rabbitmq.conf", (
            "disk_free_limit.absolute = 50MB\n"
            f"management.tcp.port = {management_port}\nmanagement.tcp.ip = 127.0.0.1\n"
            f"default_user = {admin.user}\ndefault_pass = {admin.password}\n"
            "default_user_tags.administrator = true\n"
            "default_permissions.configure = .*\ndefault_permissions.read = .*\ndefault_permissions.write = .*\n"))
        (base_dir / "rabbitmq-env.conf").write_text("")
        name_file = base_dir / "node-name"
        if not name_file.exists():  # the node's name is part of its data directory; keep it across restarts
            name_file.write_text(f"mesh-{uuid.uuid4().hex[:8]}@localhost")
        node = cls(base_dir=base_dir, amqp_port=amqp_port or free_port(), dist_port=free_port(),
                   epmd_port=free_port(), node_name=name_file.read_text().strip(), management_port=management_port,
                   admin=admin)
        node.spawn()
        return node

    def wait_started(self, *, timeout_s: float = 90.0) -> None:
        """Until the node takes AMQP connections and its administrator is as ``ensure_administrator`` says; a node
        that does not get there is stopped and ``RabbitUnavailable`` raised, with the end of its output."""
        deadline, up = time.monotonic() + timeout_s, False
        while not up and not self.exited() and time.monotonic() < deadline:  # one that dies booting: said at once
            up = wait_for_port(self.amqp_port, timeout_s=1.0)
        if not up or self.exited():
            what = "exited while starting" if self.exited() else f"did not start within {timeout_s:g}s"
            self.stop()
            tail = (self.base_dir / "server.out").read_text(errors="replace")[-2000:]
            raise RabbitUnavailable(f"RabbitMQ {what}; its output ends with:\n{tail}")
        try:
            self.ensure_administrator(timeout_s=timeout_s)
        except RabbitUnavailable:
            self.stop()
            raise

    def ensure_administrator(self, *, timeout_s: float = 90.0) -> None:
        """The administrator exists with this mesh's password and ``guest`` does not.

        A data directory made before the node had a default user of its own still has ``guest`` (an administrator
        anyone on the machine could use): the administrator is made with guest's login, then guest is deleted. A
        directory whose administrator has another password (var/secrets.json made anew) is refused, saying so."""
        url, me = self.management_url, (self.admin.user, self.admin.password)
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=5) as http:
            while True:  # the management listener comes up a moment after AMQP's
                try:
                    status = http.get(f"{url}/api/whoami", auth=me).status_code
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise RabbitUnavailable(f"RabbitMQ's management API did not answer within {timeout_s:g}s") \
                            from None
                    time.sleep(0.2)
            if status == 401:
                self._make_administrator(http, via=("guest", "guest"))
            elif status != 200:
                raise RabbitUnavailable(f"RabbitMQ's management API answered {status} to the administrator")
            guest = http.get(f"{url}/api/users/guest", auth=me)
            if guest.status_code == 200:
                http.delete(f"{url}/api/users/guest", auth=me).raise_for_status()
            elif guest.status_code != 404:
                raise RabbitUnavailable(f"RabbitMQ's management API answered {guest.status_code} about guest")

    def _make_administrator(self, http: httpx.Client, *, via: tuple[str, str]) -> None:
        url, user = self.management_url, quote(self.admin.user, safe="")
        made = http.put(f"{url}/api/users/{user}", auth=via,
                        json={"password": self.admin.password, "tags": "administrator"})
        if made.status_code not in (201, 204):
            raise RabbitUnavailable(f"the broker's administrator could not be made ({made.status_code}): its data "
                                    f"directory {self.base_dir} belongs to another administrator; remove it")
        http.put(f"{url}/api/permissions/%2F/{user}", auth=via,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()

    def spawn(self) -> None:
        """Start the node's process (it dies with this process: ``meshkit.child``); does not wait for it."""
        log = (self.base_dir / "server.out").open("ab")
        self.process = subprocess.Popen(wrap([rabbitmq_server_path()]), env=self._env(), stdout=log,  # noqa: S603
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def exited(self) -> bool:
        """The node's process is not running: it has ended, or was never spawned."""
        return self.process is None or self.process.poll() is not None

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
