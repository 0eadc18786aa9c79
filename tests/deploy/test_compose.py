"""deploy/docker-compose.yml is valid (checked by docker-compose itself, no engine needed) and in step with
`make run`: same services, ports and settings, a /ready health check on each, PostgreSQL for every database."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from meshkit.mesh_runner import KEEP_ALIVE_S, REPO_ROOT, SERVICES


@pytest.fixture(scope="module")
def compose() -> dict:
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose is required (make test installs Debian's docker-compose package)"
    result = subprocess.run([tool, "-f", str(REPO_ROOT / "deploy" / "docker-compose.yml"), "config"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


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
    assert env[f"{spec.env_prefix}_PORT"] == str(spec.default_port)
    assert env[f"{spec.env_prefix}_DATABASE_URL"].startswith("postgresql://")
    assert env[f"{spec.env_prefix}_DATABASE_URL"].endswith(f"/{spec.name}")
    assert env["MESH_AMQP_URL"] == "amqp://rabbitmq:5672/", "no shared login: each asks the gateway for its own"
    admin = {k: v for k, v in env.items() if k.startswith("SHEP_BROKER_ADMIN")}
    assert bool(admin) == (spec.name == "shep_gateway"), "the broker administrator's login is the gateway's alone"
    assert env["MESH_NUC_URL"] == "http://nuc_pki:8006"
    assert env["MESH_GATEWAY_URL"] == "http://shep_gateway:8002"
    assert f"{spec.default_port}:{spec.default_port}" in [str(p) if isinstance(p, str) else
                                                         f"{p['published']}:{p['target']}" for p in service["ports"]]


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_service_health_check_asks_ready_and_waits_for_its_infrastructure(compose, spec):
    service = compose["services"][spec.name]
    assert "/ready" in " ".join(service["healthcheck"]["test"])
    assert service["environment"]["SERVICE_PORT"] == str(spec.default_port)
    assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_infrastructure_has_health_checks_and_every_database(compose):
    assert compose["services"]["rabbitmq"]["healthcheck"]["test"]
    assert compose["services"]["postgres"]["healthcheck"]["test"]
    init = (REPO_ROOT / "deploy" / "postgres-init.sql").read_text()
    for spec in SERVICES:
        assert f"CREATE DATABASE {spec.name};" in init


def test_compose_rabbitmq_keeps_no_guest_its_administrator_is_the_gateways(compose):
    """The image makes RABBITMQ_DEFAULT_USER instead of guest; the gateway holds that login (and deletes a guest
    it finds on an older volume)."""
    broker = compose["services"]["rabbitmq"]["environment"]
    gateway = compose["services"]["shep_gateway"]["environment"]
    assert broker["RABBITMQ_DEFAULT_USER"] not in ("", "guest")
    assert (gateway["SHEP_BROKER_ADMIN_USER"], gateway["SHEP_BROKER_ADMIN_PASSWORD"]) == \
        (broker["RABBITMQ_DEFAULT_USER"], broker["RABBITMQ_DEFAULT_PASS"])
