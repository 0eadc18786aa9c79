"""``make run``: a private RabbitMQ node and the six services under var/, ready, with a table of where
everything is (also written to var/mesh.json). Ctrl-C stops every process it started.

While it runs it supervises them (``meshkit.supervisor``): a service or the broker that dies is started
again with back-off, and ``meshctl service stop|start|kill|restart NAME`` takes one down on purpose. Every
child dies with the launcher, however it dies (``meshkit.child``); and should anything outlive it (the
broker's ``epmd``, or a launcher killed while starting), the next ``make run`` finds it through
``var/launcher.json`` and stops it before it starts — instead of saying a port is in use.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from meshkit.mesh_runner import REPO_ROOT, SERVICES, MeshConfig, MeshRunner, MeshStartError
from meshkit.ports import port_is_free
from meshkit.private_files import write_private
from meshkit.rabbit_node import ADMIN_USER, RabbitNode, RabbitUnavailable
from meshkit.sdk import Citizen, KitError, Mesh
from meshkit.supervisor import BROKER, ControlServer, Supervisor
from shared.mesh.broker_accounts import BrokerLogin

console = Console()


def _secrets(var_dir: Path) -> dict[str, str]:
    """Per-checkout secrets, made once: the admin token testers use, the key-encryption passphrase and the broker
    administrator's password (a secrets.json from before it had one gets one added)."""
    path = var_dir / "secrets.json"
    values: dict[str, str] = {}
    if path.exists():
        path.chmod(0o600)  # one written by an older version may be readable by others
        values = json.loads(path.read_text())
    made = {"adminToken": secrets.token_urlsafe(24), "keyPassphrase": secrets.token_urlsafe(24),
            "brokerAdminPassword": secrets.token_urlsafe(24)}
    if not made.keys() <= values.keys():
        values = made | values
        write_private(path, json.dumps(values))
    return values


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _record_processes(var_dir: Path, *, node: RabbitNode, runner: MeshRunner | None) -> None:
    """What this launcher started, for the next one to clean up should this one be killed."""
    processes = [{"name": BROKER, "pid": node.process.pid, "marker": "rabbitmq"}] if node.process else []
    for name, service in (runner.services.items() if runner else []):
        if service.process is not None:
            processes.append({"name": name, "pid": service.process.pid, "marker": f"services.{name}.main"})
    path = var_dir / "launcher.json"
    path.write_text(json.dumps({"pid": os.getpid(), "epmdPort": node.epmd_port,
                                "rabbitmqBaseDir": str(node.base_dir), "processes": processes}, indent=2))


def _clean_up_after_a_dead_launcher(var_dir: Path) -> None:
    path = var_dir / "launcher.json"
    if not path.exists():
        return
    record = json.loads(path.read_text())
    pid = int(record.get("pid", 0))
    if pid and pid != os.getpid() and _alive(pid) and "meshkit.launcher" in _command_line(pid):
        raise SystemExit(f"a mesh from {var_dir} is already running (launcher pid {pid}): stop it with Ctrl-C in "
                         f"its terminal, or `kill {pid}`")
    leftovers = [p for p in record.get("processes", [])
                 if _alive(int(p["pid"])) and p["marker"] in _command_line(int(p["pid"]))]
    for process in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(process["pid"]), signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(int(p["pid"])) for p in leftovers):
        time.sleep(0.2)
    for process in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(process["pid"]), signal.SIGKILL)
    epmd = shutil.which("epmd")
    if epmd and record.get("epmdPort"):
        subprocess.run([epmd, "-kill"], env={**os.environ, "ERL_EPMD_PORT": str(record["epmdPort"])},  # noqa: S603
                       capture_output=True, check=False, timeout=10)
    path.unlink(missing_ok=True)
    if leftovers:
        console.print(f"[yellow]An earlier launcher (pid {pid}) did not stop cleanly:[/yellow] stopped what it left "
                      f"running ({', '.join(p['name'] for p in leftovers)}).")


def _ports() -> dict[str, int]:
    ports = {}
    for spec in SERVICES:
        port = int(os.environ.get(f"{spec.env_prefix}_PORT", spec.default_port))
        if not port_is_free(port):
            raise SystemExit(f"port {port} for {spec.name} is in use; set {spec.env_prefix}_PORT to another port")
        ports[spec.name] = port
    return ports


def _describe(config: MeshConfig, node: RabbitNode, runner: MeshRunner) -> dict:
    services = {}
    for name, service in runner.services.items():
        services[name] = {"url": service.url, "docs": f"{service.url}/docs", "openapi": f"{service.url}/openapi.json",
                          "title": service.spec.title, "log": str(service.log_path)}
    return {"services": services, "amqpUrl": node.service_url, "adminToken": config.admin_token,
            "rabbitmq": {"node": node.node_name, "amqpPort": node.amqp_port, "dataDir": str(node.base_dir),
                         "managementUrl": node.management_url,
                         "administrator": {"user": node.admin.user, "password": node.admin.password}},
            "varDir": str(config.var_dir), "startedAt": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _demo_citizen(var_dir: Path) -> dict:
    """A ready citizen to try the portal with; made once, reused on later runs while its account exists."""
    directory = var_dir / "citizens" / "demo"
    with Mesh.from_file(var_dir / "mesh.json") as kit:
        citizen: Citizen | None = None
        if (directory / "citizen.json").exists():
            known = Citizen.load(directory)
            with contextlib.suppress(KitError):  # its account is gone (another mesh): a new citizen
                kit.login(known.iin, known.password or "")
                citizen = known
        if citizen is None:
            citizen = kit.new_citizen(district="almaty", min_age=25, max_age=45, employed=False)
            citizen.save(directory)
    return {"iin": citizen.iin, "name": f"{citizen.surname} {citizen.name}", "password": citizen.password,
            "pkcs12Password": citizen.pkcs12_password, "directory": str(directory)}


def _demo_staff(var_dir: Path, *, district: str = "zhezkazgan") -> dict:
    """One district's ИС МИО staff, to log in with straight away (every district: GET /admin/staff)."""
    with Mesh.from_file(var_dir / "mesh.json") as kit:
        staff = [kit.staff(district, role=role) for role in ("clerk", "head", "executor")]
    return {"district": district, "staff": [{"role": s.role, "iin": s.iin, "password": s.password} for s in staff]}


def _demo_operators(var_dir: Path) -> dict:
    """Each ЦОН branch's first operator, to log in with straight away (every operator: GET /admin/operators)."""
    with Mesh.from_file(var_dir / "mesh.json") as kit:
        operators = [kit.operator(branch["id"]) for branch in kit.branches() if branch["offers"]]
    return {"operators": [{"branch": o.branch, "iin": o.iin, "password": o.password} for o in operators]}


def _print(description: dict) -> None:
    # URLs are what people copy from this table: never truncate or wrap them, whatever the terminal width.
    table = Table(title="egov-mesh is up", show_lines=False)
    table.add_column("service", no_wrap=True)
    table.add_column("URL (API docs at /docs)", no_wrap=True, overflow="ignore")
    table.add_column("what it is", overflow="fold")
    for name, item in description["services"].items():
        table.add_row(name, item["url"], item["title"])
    console.print(table, crop=False)
    rabbit = description["rabbitmq"]
    admin = rabbit["administrator"]
    gateway = description["services"]["shep_gateway"]["url"]
    console.print(f"RabbitMQ (private node): {description['amqpUrl']} — one account per member, made by the gateway "
                  f"(POST /admin/broker-accounts/ID); no guest. Management UI {rabbit['managementUrl']}, administrator "
                  f"{admin['user']} / {admin['password']} (also GET {gateway}/admin/broker/administrator with the "
                  "admin token)", soft_wrap=True)
    console.print(f"Admin token (Authorization: Bearer …): {description['adminToken']}", soft_wrap=True)
    var = description["varDir"]
    demo = description.get("demoCitizen")
    if demo:
        console.print(f"Demo citizen ({demo['name']}): IIN {demo['iin']}, portal password {demo['password']}; "
                      f"EDS keys in {demo['directory']} (PKCS#12 password {demo['pkcs12Password']})", soft_wrap=True)
    staff = description.get("demoStaff")
    if staff:
        people = "; ".join(f"{s['role']} IIN {s['iin']} password {s['password']}" for s in staff["staff"])
        mio = description["services"]["mio_workstation"]["url"]
        console.print(f"ИС МИО staff of {staff['district']} (POST {mio}/staff/login): {people}; every district's "
                      "staff and EDS keys: GET /admin/staff", soft_wrap=True)
    centre = description.get("demoOperators")
    if centre:
        people = "; ".join(f"{o['branch']} IIN {o['iin']} password {o['password']}" for o in centre["operators"])
        con = description["services"]["con_operator"]["url"]
        console.print(f"ЦОН operators (POST {con}/operators/login): {people}; every branch's operators and EDS keys: "
                      "GET /admin/operators; branches and their services: GET /branches", soft_wrap=True)
    console.print(f"Mail and SMS the mesh sent: GET {description['services']['portal']['url']}/admin/mail or "
                  "`.venv/bin/meshctl mail`", soft_wrap=True)
    console.print(f"Everything above, as JSON: {var}/mesh.json — logs in {var}/logs/", soft_wrap=True)
    console.print("A service that dies is started again; take one down on purpose with `.venv/bin/meshctl service "
                  "stop NAME` (also start, kill, restart, status; NAME one of rabbitmq, "
                  f"{', '.join(description['services'])}).", soft_wrap=True)
    console.print("Press Ctrl-C to stop the mesh.")


@dataclass
class _Launch:
    """The mesh this launcher runs: what ``stop`` (Ctrl-C, SIGTERM, a failed start) takes down, and the description
    ``write`` keeps current in var/mesh.json."""

    var_dir: Path
    node: RabbitNode
    runner: MeshRunner
    control: ControlServer | None = None
    description: dict[str, Any] = field(default_factory=dict)
    stopping: bool = False

    def stop(self, *_args: object) -> None:
        if self.stopping:
            return
        self.stopping = True
        console.print("\nStopping the mesh …")
        if self.control is not None:
            self.control.stop()
        self.runner.stop()
        self.node.stop()
        (self.var_dir / "mesh.json").unlink(missing_ok=True)
        (self.var_dir / "launcher.json").unlink(missing_ok=True)
        console.print("Stopped.")
        sys.exit(0)

    def write(self, status: dict[str, Any] | None = None) -> None:
        for name, state in (status or {}).items():
            target = self.description["services"].get(name) if name != BROKER else self.description["rabbitmq"]
            if target is not None:
                target.update(state)
        write_private(self.var_dir / "mesh.json", json.dumps(self.description, ensure_ascii=False, indent=2))
        _record_processes(self.var_dir, node=self.node, runner=self.runner)


def _launch_broker(var_dir: Path, values: dict[str, str]) -> RabbitNode:
    """The broker's process, not waited for: the services start beside it (``RabbitNode.launch``)."""
    console.print("Starting a private RabbitMQ node and the six services …")
    try:
        return RabbitNode.launch(base_dir=var_dir / "rabbitmq", admin=BrokerLogin(
            user=ADMIN_USER, password=values["brokerAdminPassword"]))
    except RabbitUnavailable as exc:
        raise SystemExit(str(exc)) from None


def _add_demos(launch: _Launch) -> None:
    """A demo citizen, one district's staff and each branch's operator in the description, when the mesh makes
    them."""
    try:
        launch.description["demoCitizen"] = _demo_citizen(launch.var_dir)
        launch.description["demoStaff"] = _demo_staff(launch.var_dir)
        launch.description["demoOperators"] = _demo_operators(launch.var_dir)
        launch.write()
    except KitError as exc:
        console.print(f"[yellow]No demo citizen or staff:[/yellow] {exc}")


def main() -> None:
    var_dir = Path(os.environ.get("MESH_VAR_DIR", REPO_ROOT / "var")).resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    values = _secrets(var_dir)
    _clean_up_after_a_dead_launcher(var_dir)
    (var_dir / "mesh.json").unlink(missing_ok=True)  # written again once this mesh is up: never a stale one
    ports = _ports()
    node = _launch_broker(var_dir, values)
    _record_processes(var_dir, node=node, runner=None)
    config = MeshConfig(var_dir=var_dir, amqp_url=node.service_url, admin_token=values["adminToken"],
                        key_passphrase=values["keyPassphrase"], ports=ports,
                        broker_management_url=node.management_url, broker_admin=(node.admin.user,
                                                                                 node.admin.password))
    runner = MeshRunner(config)
    launch = _Launch(var_dir=var_dir, node=node, runner=runner)
    signal.signal(signal.SIGINT, launch.stop)
    signal.signal(signal.SIGTERM, launch.stop)
    runner.start()
    _record_processes(var_dir, node=node, runner=runner)
    timeout_s = float(os.environ.get("MESH_START_TIMEOUT_S", "180"))
    try:
        node.wait_started(timeout_s=timeout_s)
    except RabbitUnavailable as exc:
        console.print(f"[red]The mesh did not start:[/red] {exc}")
        launch.stop()
    try:
        runner.wait_ready(timeout_s=timeout_s, progress=True)
    except MeshStartError as exc:
        console.print(f"[red]The mesh did not start:[/red] {exc}")
        launch.stop()
    launch.description = _describe(config, node, runner)
    supervisor = Supervisor(runner=runner, rabbit=node, say=lambda text: console.print(text, soft_wrap=True),
                            changed=launch.write)
    launch.control = ControlServer(supervisor, token=config.admin_token)
    launch.control.start()
    launch.description["launcher"] = {"pid": os.getpid(), "controlUrl": launch.control.url}
    launch.write(supervisor.status())
    supervisor.tick()  # its first look marks the ready services up before the mesh is said to be up
    _add_demos(launch)
    _print(launch.description)
    while True:
        supervisor.tick()
        time.sleep(0.5)


if __name__ == "__main__":
    main()
