"""A `make run` mesh as a tester operates it: `meshctl service kill|stop|start` takes members down on purpose,
the launcher restarts what crashes, outages of НУЦ and ГБД ФЛ are sat out with nothing lost, and a killed
launcher leaves nothing behind that would stop the next one.

The launcher runs here as a real process (``python -m meshkit.launcher``, what `make run` runs) on its own
ports, broker and var directory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from typer.testing import CliRunner

from meshkit import cli
from meshkit.mesh_runner import REPO_ROOT, SERVICES
from meshkit.ports import free_port, port_is_free
from meshkit.sdk import KitError, Mesh
from shared.mesh.broker_accounts import BrokerLogin, with_login
from shared.mesh.topology import DEAD_QUEUE, H_REFUSAL_CODE, H_REFUSAL_REASON, INGRESS_EXCHANGE
from tests.support.mio import until

pytestmark = pytest.mark.e2e
JOB_SEEKER = "employment.job-seeker-registration"


@dataclass
class Launched:
    var: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    @property
    def mesh_file(self) -> Path:
        return self.var / "mesh.json"

    def description(self) -> dict[str, Any]:
        return json.loads(self.mesh_file.read_text())

    def kit(self) -> Mesh:
        return Mesh.from_file(self.mesh_file)

    def meshctl(self, *args: str) -> Any:
        result = CliRunner().invoke(cli.app, [*args, "--mesh", str(self.mesh_file)])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


def _launch(var: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (var / "launcher.out").open("ab")
    return subprocess.Popen([sys.executable, "-m", "meshkit.launcher"], cwd=REPO_ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _wait_up(launched: Launched, *, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if launched.process.poll() is not None:
            raise AssertionError(f"the launcher exited: {(launched.var / 'launcher.out').read_text()[-3000:]}")
        if launched.mesh_file.exists():
            description = launched.description()
            if description.get("demoStaff") and (description.get("launcher") or {}).get("pid") == launched.process.pid:
                return
        time.sleep(0.5)
    raise AssertionError(f"the mesh did not come up: {(launched.var / 'launcher.out').read_text()[-3000:]}")


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    var = tmp_path_factory.mktemp("launched")
    ports = {f"{spec.env_prefix}_PORT": str(free_port()) for spec in SERVICES}
    # Short OCSP caching, so a stopped НУЦ is felt within seconds, as it would be after a real cache's life.
    env = {**os.environ, **ports, "MESH_VAR_DIR": str(var), "MESH_OCSP_MAX_AGE_S": "5"}
    handle = Launched(var=var, env=env, process=_launch(var, env))
    try:
        _wait_up(handle)
        yield handle
    finally:
        if handle.process.poll() is None:
            handle.process.send_signal(signal.SIGINT)
            handle.process.wait(timeout=90)


def _case(kit: Mesh, citizen: Any, correlation_id: str) -> dict[str, Any]:
    cases = kit.http.get(f"{kit.info.portal}/admin/cases", params={"correlationId": correlation_id},
                         headers={"Authorization": f"Bearer {kit.info.admin_token}"}).json()["applications"]
    return cases[0]


def _completed(kit: Mesh, citizen: Any, correlation_id: str, *, timeout_s: float) -> dict[str, Any]:
    return until(lambda: _case(kit, citizen, correlation_id), lambda c: c["status"] == "COMPLETED",
                 what=f"case {correlation_id} to complete", timeout_s=timeout_s)


def test_make_runs_secrets_are_its_owners_alone_and_services_hold_no_broker_login(launched: Launched):
    for name in ("mesh.json", "secrets.json"):
        mode = (launched.var / name).stat().st_mode & 0o777
        assert mode == 0o600, f"{name} is {oct(mode)}: it holds the admin token"
    demo = Path(launched.description()["demoCitizen"]["directory"])
    assert {p.name: p.stat().st_mode & 0o777 for p in demo.iterdir()} == \
        {"citizen.json": 0o600, "signing.p12": 0o600, "auth.p12": 0o600}
    description = launched.description()
    assert "@" not in description["amqpUrl"], "no login in the URL services and testers are given"

    management_url = description["rabbitmq"]["managementUrl"]
    with httpx.Client(timeout=10) as http:  # the administrator's login: shown to the admin token holder only
        assert http.get(f"{description['services']['shep_gateway']['url']}/admin/broker/administrator"
                        ).status_code == 401
        shown = http.get(f"{description['services']['shep_gateway']['url']}/admin/broker/administrator",
                         headers={"Authorization": f"Bearer {description['adminToken']}"}).json()
    secrets_file = json.loads((launched.var / "secrets.json").read_text())
    assert (shown["user"], shown["password"], shown["managementUrl"]) == \
        ("mesh", secrets_file["brokerAdminPassword"], management_url), "made for this mesh, kept with its secrets"
    assert description["rabbitmq"]["administrator"] == {"user": "mesh", "password": shown["password"]}
    assert f"mesh / {shown['password']}" in (launched.var / "launcher.out").read_text(), "printed with the UI's URL"

    def users() -> set[str]:  # the management API lists connections a few seconds after they open
        with httpx.Client(timeout=10, auth=(shown["user"], shown["password"])) as management:
            return {c["user"] for c in management.get(f"{management_url}/api/connections").json()}

    seen = until(users, lambda u: {"shep", "portal", "con", "gbdfl", "nuc", "mio.almaty"} <= u,
                 what="every service's own broker login", timeout_s=30)
    assert "mesh" not in seen, "no service connects with the administrator's login"
    with httpx.Client(timeout=10) as http:  # guest is refused, over HTTP and over AMQP
        assert http.get(f"{management_url}/api/whoami", auth=("guest", "guest")).status_code == 401
        users_now = {u["name"] for u in http.get(f"{management_url}/api/users", auth=(shown["user"],
                                                                                      shown["password"])).json()}
    assert "guest" not in users_now
    port = description["rabbitmq"]["amqpPort"]
    with pytest.raises(aio_pika.exceptions.ProbableAuthenticationError):
        asyncio.run(aio_pika.connect(f"amqp://guest:guest@127.0.0.1:{port}/"))


def test_a_killed_service_is_restarted_by_the_launcher_and_the_flow_completes(launched: Launched):
    kit = launched.kit()
    kit.set_mode("zhezkazgan", "auto", auto_share=0.02)
    citizen = kit.new_citizen(district="zhezkazgan", min_age=25, max_age=50, jobless=True)
    case = kit.login(citizen.iin, citizen.password or "").apply(citizen.signed_request(JOB_SEEKER))
    killed = launched.meshctl("service", "kill", "gbd_fl")  # the applicant's district lookup is under way
    assert killed["gbd_fl"]["state"] in ("up", "restarting")
    assert _completed(kit, citizen, case["correlationId"], timeout_s=90)["district"] == "zhezkazgan"
    status = until(lambda: launched.meshctl("service", "status"), lambda s: s["gbd_fl"]["state"] == "up",
                   what="gbd_fl to be back")
    assert status["gbd_fl"]["restarts"] == 1
    assert launched.description()["services"]["gbd_fl"]["restarts"] == 1, "mesh.json counts restarts"
    assert "gbd_fl exited" in (launched.var / "launcher.out").read_text(), "the terminal says so"
    kit.close()


async def _publish_poison(amqp_url: str) -> str:
    """A message nothing can process, carrying what RabbitMQ puts on a message that went round retry queues."""
    message_id = str(uuid.uuid4())
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    exchange = await channel.get_exchange(INGRESS_EXCHANGE)
    await exchange.publish(aio_pika.Message(body=b"\x00not an envelope", message_id=message_id, headers={
        "x-death": [{"queue": "shep.ingress.retry.30s", "reason": "expired", "count": 3,
                     "time": dt.datetime.now(dt.UTC), "exchange": "", "routing-keys": ["shep.ingress.retry.30s"]}]}),
        routing_key="")
    await connection.close()
    return message_id


async def _dead_letters(amqp_url: str) -> dict[str, dict[str, Any]]:
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    queue = await channel.get_queue(DEAD_QUEUE)
    found = {}
    while (message := await queue.get(fail=False)) is not None:
        found[message.message_id or ""] = {"code": message.headers.get(H_REFUSAL_CODE),
                                           "reason": message.headers.get(H_REFUSAL_REASON)}
        await message.ack()
    await connection.close()
    return found


def _staff_to_the_signing_step(kit: Mesh, number: str) -> None:
    act = {role: kit.staff_login(kit.staff("zhezkazgan", role=role)) for role in ("clerk", "head", "executor")}
    act["clerk"].act(number, "accept")
    act["head"].act(number, "assign")
    act["executor"].act(number, "decide", decision="approve")


async def test_nuc_down_a_minute_and_gbd_fl_down_two_then_every_application_completes(launched: Launched):
    """ГБД ФЛ stopped for 2 minutes and, within that, НУЦ for 60 s: the request routed by address stays parked
    and is routed when ГБД ФЛ returns; the application in flight completes when НУЦ returns; the gateway keeps
    taking messages throughout, and a message it can never process is dead-lettered with its reason."""
    kit = launched.kit()
    description = launched.description()  # the broker's administrator reads the dead letters (there is no guest)
    amqp = with_login(description["amqpUrl"], BrokerLogin(**description["rabbitmq"]["administrator"]))
    await _dead_letters(amqp)  # start from an empty dead-letter queue
    kit.set_mode("zhezkazgan", "manual")
    first, parked_one, during, after = (kit.new_citizen(district="zhezkazgan", min_age=25, max_age=50, jobless=True)
                                        for _ in range(4))
    in_flight = kit.login(first.iin, first.password or "").apply(first.signed_request(JOB_SEEKER),
                                                                  district="zhezkazgan")
    number = until(lambda: _case(kit, first, in_flight["correlationId"]), lambda c: c["applicationNumber"],
                   what="a number")["applicationNumber"]
    _staff_to_the_signing_step(kit, number)  # what is left needs НУЦ (signatures checked), not ГБД ФЛ

    launched.meshctl("service", "stop", "gbd_fl")
    gbd_down = time.monotonic()
    kit.set_mode("zhezkazgan", "auto", auto_share=0.01)
    by_address = kit.login(parked_one.iin, parked_one.password or "").apply(parked_one.signed_request(JOB_SEEKER))

    launched.meshctl("service", "stop", "nuc_pki")
    nuc_down = time.monotonic()
    await asyncio.sleep(6)  # every OCSP answer cached before (5 s here) has aged out: НУЦ must be asked now
    kit.http.put(f"{kit.info.mio}/admin/applications/{number}/mode", json={"mode": "auto", "autoShare": 0.01},
                 headers={"Authorization": f"Bearer {kit.info.admin_token}"}).raise_for_status()
    with pytest.raises(KitError) as refused:  # a new citizen's EDS cannot be checked while НУЦ is down
        kit.login(during.iin, during.password or "").apply(during.signed_request(JOB_SEEKER))
    assert (refused.value.status, refused.value.code) == (503, "EDS_OCSP_UNREACHABLE")
    poison = await _publish_poison(amqp)
    await asyncio.sleep(max(0.0, 60 - (time.monotonic() - nuc_down)))
    gateway_ready = kit.http.get(f"{kit.info.gateway}/ready").status_code
    waiting = _case(kit, first, in_flight["correlationId"])["status"]
    started = launched.meshctl("service", "start", "nuc_pki")  # answers once НУЦ is ready
    assert started["nuc_pki"]["state"] == "up"
    assert gateway_ready == 200, "the gateway kept taking messages while НУЦ was down"
    assert waiting != "COMPLETED", "its completion notice waited for НУЦ"

    done = await asyncio.to_thread(_completed, kit, first, in_flight["correlationId"], timeout_s=90)
    assert done["applicationNumber"] == number
    seen = until(lambda: [n["status"] for n in kit.login(first.iin, first.password or "").notifications()
                          if n["applicationNumber"] == number], lambda n: len(n) >= 3,
                 what="every notice (one retried through the outage may come after a later one)", timeout_s=60)
    assert seen == ["RECEIVED", "IN_PROGRESS", "COMPLETED"], "each once, in the order they happened"
    new = kit.login(after.iin, after.password or "").apply(after.signed_request(JOB_SEEKER), district="zhezkazgan")
    assert _case(kit, parked_one, by_address["correlationId"])["status"] == "SENT", "still parked: ГБД ФЛ is down"

    await asyncio.sleep(max(0.0, 120 - (time.monotonic() - gbd_down)))
    launched.meshctl("service", "start", "gbd_fl")
    routed = await asyncio.to_thread(_completed, kit, parked_one, by_address["correlationId"], timeout_s=120)
    assert routed["district"] == "zhezkazgan"
    await asyncio.to_thread(_completed, kit, after, new["correlationId"], timeout_s=120)

    dead = await _dead_letters(amqp)
    assert dead[poison]["code"] == "Client.InvalidEnvelope"
    assert all(d["code"] and d["reason"] for d in dead.values()), "every dead letter says why"
    kit.close()


def test_a_killed_launcher_leaves_nothing_that_stops_the_next_one(launched: Launched):
    description = launched.description()
    record = json.loads((launched.var / "launcher.json").read_text())
    children = [p["pid"] for p in record["processes"]]
    launched.process.kill()  # SIGKILL: no clean-up of its own
    launched.process.wait(timeout=10)

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(alive(pid) for pid in children):
        time.sleep(0.5)
    assert not [pid for pid in children if alive(pid)], "every service and the broker died with the launcher"
    ports = [int(item["url"].rsplit(":", 1)[1]) for item in description["services"].values()]
    assert all(port_is_free(port) for port in ports)

    launched.process = _launch(launched.var, launched.env)  # the next `make run` on the same var/
    _wait_up(launched)
    assert launched.meshctl("service", "status")["portal"]["state"] == "up"

