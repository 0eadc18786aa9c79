"""deploy/docker-compose.yml is valid (checked by the pinned Compose v2 itself, no engine needed) and in step with
`make run`: same services, ports and settings, a /ready health check on each that podman runs as well as Docker,
PostgreSQL for every database, the image built once from a locked set of dependencies, host ports overridable and
on loopback. The real run is tests/deploy/test_compose_run.py (`make test-compose`)."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from meshkit.mesh_runner import KEEP_ALIVE_S, REPO_ROOT, SERVICES
from tests.deploy.test_compose_run import compose_binary

DEPLOY = REPO_ROOT / "deploy"
# Variables a user's shell may hold that the file reads: cleared, so the defaults are what is checked.
COMPOSE_VARS = ("MESH_ENV", "MESH_ADMIN_TOKEN", "MESH_KEY_PASSPHRASE", "MESH_BIND", "AMQP_PORT", "RABBITMQ_UI_PORT",
                "POSTGRES_PASSWORD", "MESH_BROKER_ADMIN_PASSWORD", "NUC_PUBLIC_URL",
                *(f"{s.env_prefix}_PORT" for s in SERVICES))


def config(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in COMPOSE_VARS}
    result = subprocess.run([str(compose_binary()), "-f", str(DEPLOY / "docker-compose.yml"), "--env-file",
                             os.devnull, "config"], capture_output=True, text=True, check=False, env=base | env)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def compose() -> dict:
    return config()


def published(service: dict) -> dict[int, tuple[str, str]]:
    """target port → (host address, host port)"""
    return {int(p["target"]): (p.get("host_ip", ""), str(p["published"])) for p in service.get("ports", [])}


def test_every_mesh_service_is_there_with_infrastructure(compose):
    assert set(compose["services"]) == {s.name for s in SERVICES} | {"rabbitmq", "postgres"}
    assert compose["services"]["rabbitmq"]["image"].endswith("-management")


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_service_matches_make_run(compose, spec):
    service = compose["services"][spec.name]
    env = service["environment"]
    command = service["command"]
    assert command[:3] == ["uvicorn", "--factory", spec.app]
    assert command[command.index("--port") + 1] == str(spec.default_port)
    assert command[command.index("--timeout-keep-alive") + 1] == str(KEEP_ALIVE_S)
    assert "--no-access-log" in command, "JSON logs only: uvicorn's access lines are plain text"
    assert env[f"{spec.env_prefix}_PORT"] == str(spec.default_port)
    assert env[f"{spec.env_prefix}_DATABASE_URL"].startswith("postgresql://")
    assert env[f"{spec.env_prefix}_DATABASE_URL"].endswith(f"/{spec.name}")
    assert env["MESH_AMQP_URL"] == "amqp://rabbitmq:5672/", "no shared login: each asks the gateway for its own"
    admin = {k: v for k, v in env.items() if k.startswith("SHEP_BROKER_ADMIN")}
    assert bool(admin) == (spec.name == "shep_gateway"), "the broker administrator's login is the gateway's alone"
    assert env["MESH_NUC_URL"] == "http://nuc_pki:8006"
    assert env["MESH_GATEWAY_URL"] == "http://shep_gateway:8002"
    assert published(service) == {spec.default_port: ("127.0.0.1", str(spec.default_port))}


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_service_health_check_asks_ready_and_waits_for_its_infrastructure(compose, spec):
    service = compose["services"][spec.name]
    test = service["healthcheck"]["test"]
    assert "/ready" in " ".join(test)
    assert not any(" " in arg or "\t" in arg for arg in test), "podman 4's Docker API splits arguments at spaces"
    assert service["environment"]["SERVICE_PORT"] == str(spec.default_port)
    assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_image_is_built_once_and_named_by_every_service(compose):
    builders = [name for name, service in compose["services"].items() if "build" in service]
    assert builders == ["nuc_pki"]
    assert {compose["services"][s.name]["image"] for s in SERVICES} == {"egov-mesh:latest"}


def test_infrastructure_has_health_checks_and_every_database(compose):
    assert compose["services"]["rabbitmq"]["healthcheck"]["test"]
    assert compose["services"]["postgres"]["healthcheck"]["test"]
    init = (DEPLOY / "postgres-init.sql").read_text()
    for spec in SERVICES:
        assert f"CREATE DATABASE {spec.name};" in init


def test_broker_keeps_its_node_name_and_state_and_listens_on_loopback(compose):
    broker = compose["services"]["rabbitmq"]
    assert broker["hostname"] == "rabbitmq", "the node name (rabbit@<hostname>) must not change at each `up`"
    assert any(v["target"] == "/var/lib/rabbitmq" and v["type"] == "volume" for v in broker["volumes"])
    assert any(v["target"] == "/var/lib/postgresql/data" and v["type"] == "volume"
               for v in compose["services"]["postgres"]["volumes"])
    assert published(broker) == {5672: ("127.0.0.1", "5672"), 15672: ("127.0.0.1", "15672")}
    assert "ports" not in compose["services"]["postgres"]


def test_every_host_port_and_the_bind_address_can_be_changed():
    ports = {f"{s.env_prefix}_PORT": str(18000 + s.default_port % 100) for s in SERVICES}
    moved = config(MESH_BIND="0.0.0.0", AMQP_PORT="15999", RABBITMQ_UI_PORT="15998", **ports)
    for spec in SERVICES:
        assert published(moved["services"][spec.name]) == {
            spec.default_port: ("0.0.0.0", ports[f"{spec.env_prefix}_PORT"])}
    assert published(moved["services"]["rabbitmq"]) == {5672: ("0.0.0.0", "15999"), 15672: ("0.0.0.0", "15998")}
    gateway = moved["services"]["shep_gateway"]["environment"]
    assert f"portal={ports['PORTAL_PORT']}" in gateway["MESH_PUBLISHED_PORTS"].split(",")
    assert "amqp=15999" in gateway["MESH_PUBLISHED_PORTS"].split(",")


def test_secrets_come_from_the_environment():
    moved = config(MESH_ENV="prod", MESH_ADMIN_TOKEN="t" * 20, POSTGRES_PASSWORD="pg-secret",
                   MESH_BROKER_ADMIN_PASSWORD="broker-secret", NUC_PUBLIC_URL="http://mesh.example:9006")
    assert moved["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pg-secret"
    assert moved["services"]["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"] == "broker-secret"
    for spec in SERVICES:
        env = moved["services"][spec.name]["environment"]
        assert env["MESH_ENV"] == "prod"
        assert env[f"{spec.env_prefix}_DATABASE_URL"].startswith("postgresql://mesh:pg-secret@postgres:5432/")
    assert moved["services"]["shep_gateway"]["environment"]["SHEP_BROKER_ADMIN_PASSWORD"] == "broker-secret"
    assert moved["services"]["nuc_pki"]["environment"]["NUC_PUBLIC_URL"] == "http://mesh.example:9006"


def test_make_env_writes_private_prod_secrets(tmp_path):
    target = tmp_path / "mesh.env"
    subprocess.run([str(DEPLOY / "make-env.sh"), str(target)], check=True, capture_output=True)
    values = dict(line.split("=", 1) for line in target.read_text().splitlines() if "=" in line
                  and not line.startswith("#"))
    assert values["MESH_ENV"] == "prod"
    secrets = [values[k] for k in ("MESH_ADMIN_TOKEN", "MESH_KEY_PASSPHRASE", "POSTGRES_PASSWORD",
                                   "MESH_BROKER_ADMIN_PASSWORD")]
    assert all(len(s) >= 24 for s in secrets)
    assert len(set(secrets)) == 4
    assert target.stat().st_mode & 0o077 == 0


def test_compose_rabbitmq_keeps_no_guest_its_administrator_is_the_gateways(compose):
    """The image makes RABBITMQ_DEFAULT_USER instead of guest; the gateway holds that login (and deletes a guest
    it finds on an older volume)."""
    broker = compose["services"]["rabbitmq"]["environment"]
    gateway = compose["services"]["shep_gateway"]["environment"]
    assert broker["RABBITMQ_DEFAULT_USER"] not in ("", "guest")
    assert (gateway["SHEP_BROKER_ADMIN_USER"], gateway["SHEP_BROKER_ADMIN_PASSWORD"]) == \
        (broker["RABBITMQ_DEFAULT_USER"], broker["RABBITMQ_DEFAULT_PASS"])


def test_the_dependency_lock_matches_the_tested_venv():
    """deploy/constraints.txt pins what the tests ran with, all the way down (`make lock` writes it again)."""
    from deploy.lock import closure, render

    assert (DEPLOY / "constraints.txt").read_text() == render(closure()), "run `make lock`"


def test_the_build_context_is_the_sources_and_the_lock():
    ignored = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") + 1:ignored.index("*") + 5] == [
        "!deploy/constraints.txt", "!shared", "!services", "!meshkit"]
