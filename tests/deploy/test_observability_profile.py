"""The compose profile ``observability`` (deploy/docker-compose.yml, deploy/observability/): an OpenTelemetry collector
that hands the services' spans to Jaeger, Prometheus scraping every service's /metrics, Grafana with the dashboard
kept in the repo — valid for the pinned Compose v2, on loopback by default, off unless asked for, and in step with
the metrics the services really have (shared/telemetry.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess

import yaml

from meshkit.mesh_runner import REPO_ROOT, SERVICES
from shared.telemetry import ServiceMetrics
from tests.deploy.test_compose import COMPOSE_VARS
from tests.deploy.test_compose_run import compose_binary

DEPLOY = REPO_ROOT / "deploy"
OBSERVABILITY = DEPLOY / "observability"
PROFILE = {"otel-collector", "jaeger", "prometheus", "grafana"}


def _config(*profiles: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in (*COMPOSE_VARS, "OTEL_EXPORTER_OTLP_ENDPOINT")}
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    result = subprocess.run([str(compose_binary()), "-f", str(DEPLOY / "docker-compose.yml"), "--env-file",
                             os.devnull, *flags, "config"], capture_output=True, text=True, check=False, env=base)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_profile_is_off_by_default_and_on_loopback_when_asked_for():
    assert not PROFILE & set(_config()["services"])
    services = _config("observability")["services"]
    assert set(services) >= PROFILE
    for name in ("jaeger", "prometheus", "grafana"):
        assert all(p.get("host_ip") == "127.0.0.1" for p in services[name]["ports"]), name
    for spec in SERVICES:  # unset, the services record nothing; set, they export to the endpoint given
        assert services[spec.name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == ""


def test_prometheus_scrapes_every_service_where_compose_runs_it():
    scrape = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())["scrape_configs"]
    targets = {t for job in scrape for group in job["static_configs"] for t in group["targets"]}
    assert targets == {f"{spec.name}:{spec.default_port}" for spec in SERVICES}
    assert {job["metrics_path"] for job in scrape} == {"/metrics"}


def test_the_collector_hands_otlp_spans_to_jaeger():
    collector = yaml.safe_load((OBSERVABILITY / "otel-collector.yaml").read_text())
    traces = collector["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert [collector["exporters"][e]["endpoint"] for e in traces["exporters"]] == ["jaeger:4317"]


def test_the_dashboard_shows_only_metrics_the_services_have():
    dashboard = json.loads((OBSERVABILITY / "grafana" / "dashboards" / "egov-mesh.json").read_text())
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    exposed = {family.name + suffix for family in ServiceMetrics("dashboard-check").registry.collect()
               for suffix in suffixes[family.type]}
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"\b(mesh_[a-z_]+|http_[a-z_]+)\b", target["expr"])}
    assert used, "the dashboard queries the mesh's metrics"
    assert used <= exposed, used - exposed
    for concern in ("mesh_messages_in_total", "mesh_messages_out_total", "mesh_refusals_total", "mesh_queue_depth",
                    "mesh_outbox_lag_seconds", "mesh_ocsp_cache_total", "mesh_step_duration_seconds_bucket",
                    "mesh_steps_overdue_total", "http_request_duration_seconds_bucket"):
        assert concern in used, concern
    datasources = yaml.safe_load((OBSERVABILITY / "grafana" / "provisioning" / "datasources" /
                                  "datasources.yaml").read_text())["datasources"]
    assert {d["url"] for d in datasources} == {"http://prometheus:9090", "http://jaeger:16686"}
