"""egov-mesh for a tester's own pytest suite: installed with the package (the ``pytest11`` entry point
``egov_mesh``), it adds fixtures and nothing else until a test asks for one (docs/pytest.md).

- ``egov_mesh``: the scripting kit (``meshkit.sdk.Mesh``) on the mesh the session runs against — ``--egov-mesh``
  names it: a ``mesh.json`` (``make run`` writes var/mesh.json), a gateway URL (``http://localhost:8002``; the admin
  token from ``MESH_ADMIN_TOKEN``), or ``start`` (a private broker and the six services, for this session only).
  Without the option: ``$MESH_FILE``, else var/mesh.json when there is one, else ``start``.
- ``egov_reset``: the whole mesh back to its seed before the test (a second; every /ready 200). A test marked
  ``@pytest.mark.egov_snapshot("name")`` is started from that snapshot instead; ``--egov-reset-each`` resets before
  every test that uses ``egov_mesh``.
- ``egov_citizen``, ``egov_staff``, ``egov_operator``, ``egov_organisation``: fresh people, logged in.
- ``egov_expect``: wait-until and journal assertions whose failure says what was expected, what the mesh did instead
  (the nearest misses) and where the case is explained (its SVG).
- ``egov_scenario``: a flow's outcome forced (ГБД ФЛ «нет данных», ИС МИО refusing…), removed when the test ends.
- ``egov_chaos``: fault rules on the mesh, removed when the test ends, whatever it did.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from meshkit.sdk import DEFAULT_MESH_FILE, Citizen, KitError, Mesh, OperatorDesk, StaffSession


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("egov_mesh", "egov-mesh (the mesh a suite runs against)")
    group.addoption("--egov-mesh", dest="egov_mesh", default=None,
                    help="a mesh.json, a gateway URL, or 'start' (default $MESH_FILE, var/mesh.json, else start)")
    group.addoption("--egov-reset-each", dest="egov_reset_each", action="store_true", default=False,
                    help="reset the whole mesh to its seed before every test that uses egov_mesh")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "egov_snapshot(name): start the test from the mesh's named snapshot")


@dataclass
class _Started:
    """A mesh this session started: a private RabbitMQ node and the six services, under a temporary directory."""

    directory: tempfile.TemporaryDirectory[str]
    stop: Callable[[], None]
    mesh_file: Path


def _start() -> _Started:
    """A private broker (booting while the services import) and the six services. Passwords are hashed at
    argon2id's cheap cost (``MESH_ARGON2_COST=cheap``, a throw-away test mesh's): every citizen a test registers
    costs a hash; certificates, signatures and every check are `make run`'s."""
    from meshkit.private_mesh import start_services, write_mesh_file
    from meshkit.rabbit_node import RabbitNode

    directory = tempfile.TemporaryDirectory(prefix="egov-mesh-")
    base = Path(directory.name)
    rabbit = RabbitNode.launch(base_dir=base / "rabbitmq")
    try:
        runner, config = start_services(var_dir=base / "var", rabbit=rabbit, admin_token=secrets.token_urlsafe(24),
                                         key_passphrase=secrets.token_urlsafe(24),
                                         extra_env={"MESH_ARGON2_COST": "cheap"}, ready_timeout_s=180)
    except BaseException:
        rabbit.stop(graceful=False)
        directory.cleanup()
        raise
    mesh_file = write_mesh_file(base / "mesh.json", config, amqp_url=rabbit.service_url)

    def stop() -> None:
        runner.stop()
        rabbit.stop(graceful=False)
        directory.cleanup()

    return _Started(directory=directory, stop=stop, mesh_file=mesh_file)


@pytest.fixture(scope="session")
def egov_mesh(request: pytest.FixtureRequest) -> Iterator[Mesh]:
    """The kit on the session's mesh (see the module's text for where it comes from)."""
    target = request.config.getoption("egov_mesh") or os.environ.get("MESH_FILE") or (
        str(DEFAULT_MESH_FILE) if DEFAULT_MESH_FILE.exists() else "start")
    started = _start() if target == "start" else None
    try:
        if started is not None:
            mesh = Mesh.from_file(started.mesh_file)
        elif target.startswith(("http://", "https://")):
            mesh = Mesh.from_url(target, admin_token=os.environ.get("MESH_ADMIN_TOKEN"))
        else:
            mesh = Mesh.from_file(target)
        with mesh:
            yield mesh
    finally:
        if started is not None:
            started.stop()


@pytest.fixture(autouse=True)
def _egov_between_tests(request: pytest.FixtureRequest) -> None:
    """A test that uses the mesh starts from its snapshot (``egov_snapshot``) or, with ``--egov-reset-each``, from
    the seed; a test that does not use it is left alone (no mesh is started for it)."""
    marker = request.node.get_closest_marker("egov_snapshot")
    if "egov_mesh" not in request.fixturenames and marker is None:
        return
    mesh: Mesh = request.getfixturevalue("egov_mesh")
    if marker is not None:
        mesh.snapshot_restore(marker.args[0])
    elif request.config.getoption("egov_reset_each"):
        mesh.reset()


@pytest.fixture
def egov_reset(egov_mesh: Mesh) -> dict[str, Any]:
    """The whole mesh back to its seed before this test: the reset's answer (each service's duration and rows)."""
    answer: dict[str, Any] = egov_mesh.reset()
    return answer


@pytest.fixture
def egov_citizen(egov_mesh: Mesh) -> Callable[..., Citizen]:
    """``egov_citizen(district="kyzylorda", jobless=True, …)``: a fresh citizen from ГБД ФЛ, registered at the
    portal, with НУЦ keys (``Mesh.new_citizen``'s arguments)."""
    return egov_mesh.new_citizen


@pytest.fixture
def egov_staff(egov_mesh: Mesh) -> Callable[..., StaffSession]:
    """``egov_staff("kyzylorda", role="executor")``: a new ИС МИО employee of that role, logged in."""

    def make(district: str, *, role: str) -> StaffSession:
        return egov_mesh.staff_login(egov_mesh.new_staff(district, role=role))
    return make


@pytest.fixture
def egov_operator(egov_mesh: Mesh) -> Callable[..., OperatorDesk]:
    """``egov_operator("mamlyut")``: a new ЦОН operator of that branch, logged in at the desk."""

    def make(branch: str) -> OperatorDesk:
        return egov_mesh.operator_login(egov_mesh.operator(branch, new=True))
    return make


@pytest.fixture
def egov_organisation(egov_mesh: Mesh) -> Callable[..., Any]:
    """``egov_organisation()``: a representative of a new organisation, the organisation registered (BIN login)
    and logged in — ``(representative, session)``."""

    def make(**kwargs: Any) -> tuple[Any, Any]:
        representative = egov_mesh.new_representative(**kwargs)
        egov_mesh.register_organisation(representative)
        return representative, egov_mesh.login_organisation_eds(representative)
    return make


def _miss(entry: dict[str, Any]) -> str:
    payload = entry.get("payload")
    status = payload.get("status", "") if isinstance(payload, dict) else ""
    return (f"    - {entry.get('service')} {entry.get('kind')} {entry.get('messageType') or entry.get('route')} "
            f"{status} (missed: {', '.join(entry.get('missed', []))})")


@dataclass
class Expect:
    """Assertions on the mesh that wait instead of sleeping, and say what happened when they fail."""

    mesh: Mesh

    def explain_link(self, ref: str | None) -> str:
        return f"{self.mesh.info.gateway}/admin/cases/{ref}/explain.svg" if ref else "(no case id)"

    def journal(self, *, timeout_s: float = 30.0, at_least: int = 1, **filters: Any) -> list[dict[str, Any]]:
        """Until ``at_least`` journal entries match ``filters`` (the kit's spelling: ``correlation_id=``,
        ``payload={"status": …}``): the entries; else an AssertionError naming the nearest misses."""
        try:
            return self.mesh.wait_until(timeout_s=timeout_s, at_least=at_least, **filters)
        except KitError as exc:
            seen = "\n".join(_miss(m) for m in getattr(exc, "nearest_misses", [])) or "    (nothing near)"
            raise AssertionError(
                f"expected {at_least} journal entr{'y' if at_least == 1 else 'ies'} matching {filters} within "
                f"{timeout_s:g} s\n  seen instead:\n{seen}\n  explained: "
                f"{self.explain_link(filters.get('correlation_id'))}") from None

    def status(self, correlation_id: str, status: str, *, heard_by: str = "portal",
               timeout_s: float = 60.0) -> dict[str, Any]:
        """Until ``heard_by`` (portal or con) has consumed the notice of ``status`` for the case: that entry."""
        return self.journal(timeout_s=timeout_s, service="portal" if heard_by == "portal" else "con_operator",
                            kind="consumed", message_type="NOTIFICATION", correlation_id=correlation_id,
                            payload={"status": status})[-1]

    def no_dead_letters(self, correlation_id: str) -> None:
        """Nothing of the case refused to the dead letters, nothing unanswered."""
        left = self.mesh.journal_kit.unmatched(correlation_id=correlation_id)
        assert not left, (f"the case {correlation_id} left {len(left)} unmatched: "
                          f"{[(e.get('messageType'), e.get('code'), e.get('unmatched')) for e in left]}\n"
                          f"  explained: {self.explain_link(correlation_id)}")


@pytest.fixture
def egov_expect(egov_mesh: Mesh) -> Expect:
    return Expect(mesh=egov_mesh)


@pytest.fixture
def egov_scenario(egov_mesh: Mesh) -> Iterator[Callable[..., Any]]:
    """``egov_scenario("gbdfl:no-data")``: a scenario registered for this test's flows (``scenario=`` on the kit's
    submissions), removed when the test ends ([scenarios](docs/scenarios.md))."""
    made: list[Any] = []

    def add(*rules: str) -> Any:
        made.append(egov_mesh.scenarios.add(*rules))
        return made[-1]

    try:
        yield add
    finally:
        for scenario in made:
            with contextlib.suppress(KitError):  # expired meanwhile, or the mesh was reset: gone either way
                egov_mesh.scenarios.remove(scenario)


@dataclass
class Chaos:
    """Fault rules added by a test, each removed when it ends."""

    mesh: Mesh
    added: list[Any] = field(default_factory=list)

    def add(self, **rule: Any) -> Any:
        chaos = getattr(self.mesh, "chaos", None)
        if chaos is None:
            raise KitError(code="CHAOS_UNAVAILABLE", status=0, message="this kit has no fault injection")
        made = chaos(**rule)
        self.added.append(made)
        return made

    def remove_all(self) -> None:
        for made in reversed(self.added):
            remove = getattr(made, "remove", None)
            if remove is not None:
                remove()
        self.added.clear()


@pytest.fixture
def egov_chaos(egov_mesh: Mesh) -> Iterator[Chaos]:
    chaos = Chaos(mesh=egov_mesh)
    try:
        yield chaos
    finally:
        chaos.remove_all()
