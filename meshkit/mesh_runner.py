"""The six services as local processes: the same start-up for ``make run``, the tests and the benchmark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from meshkit.child import wrap

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    env_prefix: str
    default_port: int
    title: str

    @property
    def app(self) -> str:
        return f"services.{self.name}.main:create_app"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("nuc_pki", "NUC", 8006, "НУЦ РК — certificates, OCSP, CRL"),
    ServiceSpec("shep_gateway", "SHEP", 8002, "ШЭП/РШЭП — gateway, message log, mesh clock"),
    ServiceSpec("portal", "PORTAL", 8001, "ПЭП — e-government portal"),
    ServiceSpec("mio_workstation", "MIO", 8003, "ИС МИО — local authorities' workstation"),
    ServiceSpec("con_operator", "CON", 8004, "ИС ЦОН — service-centre operators"),
    ServiceSpec("gbd_fl", "GBDFL", 8005, "ГБД ФЛ — individuals registry"),
)
SPECS = {s.name: s for s in SERVICES}
KEEP_ALIVE_S = 75


@dataclass
class MeshConfig:
    var_dir: Path
    amqp_url: str
    admin_token: str
    key_passphrase: str
    ports: dict[str, int]
    mesh_env: str = "dev"
    broker_management_url: str | None = None  # the gateway makes each member's broker account through it
    broker_admin: tuple[str, str] | None = None  # the node's administrator (``RabbitNode.admin``): the gateway's alone
    extra_env: dict[str, str] = field(default_factory=dict)
    database_urls: dict[str, str] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


@dataclass
class ServiceProcess:
    spec: ServiceSpec
    config: MeshConfig
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.config.url(self.spec.name)

    @property
    def log_path(self) -> Path:
        return self.config.var_dir / "logs" / f"{self.spec.name}.log"

    def env(self) -> dict[str, str]:
        c, p = self.config, self.spec.env_prefix
        database = c.database_urls.get(self.spec.name,
                                       f"sqlite:///{c.var_dir / self.spec.name / (self.spec.name + '.db')}")
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "MESH_ENV": c.mesh_env,
            "MESH_ADMIN_TOKEN": c.admin_token,
            "MESH_KEY_PASSPHRASE": c.key_passphrase,
            "MESH_AMQP_URL": c.amqp_url,
            "MESH_NUC_URL": c.url("nuc_pki"),
            "MESH_GATEWAY_URL": c.url("shep_gateway"),
            "MESH_SERVICE_URLS": ",".join(f"{name}={c.url(name)}" for name in c.ports),  # the gateway's GET /mesh
            f"{p}_HOST": "127.0.0.1",
            f"{p}_PORT": str(c.ports[self.spec.name]),
            f"{p}_DATABASE_URL": database,
        }
        if self.spec.name == "shep_gateway" and c.broker_management_url:
            if c.broker_admin is None:
                raise MeshStartError("the gateway needs the broker administrator's login with the management URL")
            env |= {"SHEP_BROKER_ADMIN_URL": c.broker_management_url, "SHEP_BROKER_ADMIN_USER": c.broker_admin[0],
                    "SHEP_BROKER_ADMIN_PASSWORD": c.broker_admin[1]}
        env.update(c.extra_env)
        return env

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        # Keep-alive longer than clients' idle pools (httpx: 5 s, uvicorn's default too): with equal timeouts a
        # client reuses a connection at the instant the server closes it, and the request fails with ReadError
        # (seen once in 400 calls of the load test).
        command = [sys.executable, "-m", "uvicorn", "--factory", self.spec.app, "--host", "127.0.0.1",
                   "--port", str(self.config.ports[self.spec.name]), "--no-access-log", "--timeout-graceful-shutdown",
                   "5", "--timeout-keep-alive", str(KEEP_ALIVE_S)]
        self.process = subprocess.Popen(wrap(command), cwd=REPO_ROOT, env=self.env(), stdout=log,  # noqa: S603
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """SIGTERM, not waited for (``wait_stopped``). Once: uvicorn takes a second one as «exit now»."""
        if self.alive():
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)

    def wait_stopped(self, *, timeout_s: float = 15.0) -> None:
        """Until the process has exited after ``terminate``; SIGKILL past ``timeout_s``."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def stop(self, *, timeout_s: float = 15.0) -> None:
        if not self.alive():
            return
        self.terminate()
        self.wait_stopped(timeout_s=timeout_s)

    def kill(self) -> None:
        """SIGKILL: the process dies mid-whatever, as in a crash."""
        if self.alive():
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def ready(self) -> tuple[bool, str]:
        try:
            reply = httpx.get(f"{self.url}/ready", timeout=2)
        except httpx.HTTPError as exc:
            return False, f"not answering ({type(exc).__name__})"
        if reply.status_code == 200:
            return True, "ready"
        try:
            checks = reply.json().get("checks", {})
        except ValueError:
            return False, f"HTTP {reply.status_code}"
        waiting = {k: v for k, v in checks.items() if v != "ok"}
        return False, "; ".join(f"{k}: {v}" for k, v in waiting.items())[:300]


class MeshStartError(RuntimeError):
    pass


class MeshRunner:
    def __init__(self, config: MeshConfig, *, only: list[str] | None = None) -> None:
        self.config = config
        names = only or [s.name for s in SERVICES]
        self.services = {n: ServiceProcess(spec=SPECS[n], config=config) for n in names}

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def start(self) -> None:
        for service in self.services.values():
            service.start()

    def wait_ready(self, *, timeout_s: float = 120.0, names: list[str] | None = None,
                   progress: bool = False) -> None:
        chosen = [self.services[n] for n in (names or list(self.services))]
        deadline = time.monotonic() + timeout_s
        last: dict[str, str] = {}
        while time.monotonic() < deadline:
            pending = []
            for service in chosen:
                if not service.alive():
                    tail = service.log_path.read_text(errors="replace")[-3000:] if service.log_path.exists() else ""
                    raise MeshStartError(f"{service.spec.name} exited during start-up; its log ends with:\n{tail}")
                ok, why = service.ready()
                if not ok:
                    pending.append(service.spec.name)
                    if progress and last.get(service.spec.name) != why:
                        print(f"  … {service.spec.name}: {why}", flush=True)
                    last[service.spec.name] = why
            if not pending:
                return
            time.sleep(0.3)
        details = "\n".join(f"  {n}: {last.get(n, '?')}" for n in last)
        raise MeshStartError(f"not ready within {timeout_s:g}s:\n{details}")

    def stop(self, *, timeout_s: float = 15.0) -> None:
        """SIGTERM to every service at once, then each waited for (SIGKILL past ``timeout_s``): a mesh stops in the
        time of its slowest service, not in the sum of all six."""
        running = [s for s in reversed(list(self.services.values())) if s.alive()]
        for service in running:
            service.terminate()
        deadline = time.monotonic() + timeout_s
        for service in running:
            service.wait_stopped(timeout_s=max(0.1, deadline - time.monotonic()))
