"""The gateway's GET /mesh (shared.web.mesh_descriptor): where the mesh's services are, as seen by the caller —
inside the mesh by the services' own names, on the host of a compose mesh by the host name it used and the
published ports — with the admin token only for the caller that gave it."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.errors import MeshError
from shared.web.http_app import error_response
from shared.web.mesh_descriptor import mesh_descriptor_router

TOKEN = "descriptor-admin-token"
INSIDE = ("nuc_pki=http://nuc_pki:8006,shep_gateway=http://shep_gateway:8002,portal=http://portal:8001,"
          "mio_workstation=http://mio_workstation:8003,con_operator=http://con_operator:8004,gbd_fl=http://gbd_fl:8005")
PUBLISHED = ("nuc_pki=18006,shep_gateway=18002,portal=18001,mio_workstation=18003,con_operator=18004,gbd_fl=18005,"
             "amqp=15672")


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("MESH_SERVICE_URLS", INSIDE)
    monkeypatch.setenv("MESH_PUBLISHED_PORTS", PUBLISHED)
    monkeypatch.setenv("MESH_AMQP_URL", "amqp://rabbitmq:5672/")
    app = FastAPI()
    app.add_exception_handler(MeshError, lambda _request, exc: error_response(  # as every service answers
        status=exc.status, code=exc.code, message=exc.message))
    app.include_router(mesh_descriptor_router(token=lambda: TOKEN))
    return app


def test_a_caller_on_the_host_gets_the_host_name_it_used_and_the_published_ports(app):
    answer = TestClient(app, base_url="http://localhost:18002").get("/mesh")
    assert answer.status_code == 200
    body = answer.json()
    assert body["services"]["portal"] == {"url": "http://localhost:18001"}
    assert body["services"]["shep_gateway"] == {"url": "http://localhost:18002"}
    assert body["amqpUrl"] == "amqp://localhost:15672/"
    assert "adminToken" not in body
    other = TestClient(app, base_url="http://10.0.0.5:18002").get("/mesh").json()
    assert other["services"]["mio_workstation"] == {"url": "http://10.0.0.5:18003"}


def test_a_caller_inside_the_mesh_gets_the_services_own_names(app):
    body = TestClient(app, base_url="http://shep_gateway:8002").get("/mesh").json()
    assert body["services"]["gbd_fl"] == {"url": "http://gbd_fl:8005"}
    assert body["amqpUrl"] == "amqp://rabbitmq:5672/"


def test_make_run_publishes_nothing_so_every_caller_gets_the_services_own_addresses(app, monkeypatch):
    monkeypatch.setenv("MESH_SERVICE_URLS", "portal=http://127.0.0.1:41001,shep_gateway=http://127.0.0.1:41002")
    monkeypatch.delenv("MESH_PUBLISHED_PORTS")
    monkeypatch.setenv("MESH_AMQP_URL", "amqp://someone:secret@127.0.0.1:41672/")
    body = TestClient(app, base_url="http://localhost:41002").get("/mesh").json()
    assert body["services"]["portal"] == {"url": "http://127.0.0.1:41001"}
    assert body["amqpUrl"] == "amqp://127.0.0.1:41672/", "never a login"


def test_the_admin_token_only_for_its_holder_and_a_wrong_one_refused(app):
    client = TestClient(app, base_url="http://localhost:18002")
    assert client.get("/mesh", headers={"Authorization": f"Bearer {TOKEN}"}).json()["adminToken"] == TOKEN
    refused = client.get("/mesh", headers={"Authorization": "Bearer not-the-token"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "ADMIN_TOKEN_INVALID"
