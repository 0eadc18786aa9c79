"""The gateway's seed registry on restart: a changed seed file reaches the database, testers' changes stay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from services.shep_gateway.domain import ServiceDef
from services.shep_gateway.main import MODELS
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.settings import GatewaySettings
from services.shep_gateway.store import SeedMark
from shared.clock import MeshClock
from shared.db import create_tables, make_engine, make_sessions
from shared.errors import MeshError
from shared.mesh.bus_memory import MemoryBroker, MemoryBus

MEMBERS = [{"id": m, "name": m, "organisation": "org", "bin": "940140000385"} for m in ("shep", "portal", "gbdfl")]


def _seed(*, callers: list[str]) -> dict:
    return {"members": MEMBERS, "services": [
        {"id": "gbdfl.person-by-iin", "title": "person", "channel": "sync", "providers": ["gbdfl"],
         "callers": callers}]}


class Gateway:
    """The registry part of a gateway that can be restarted on the same database with another seed file."""

    def __init__(self, *, tmp_path: Path) -> None:
        self.seed_file = tmp_path / "registry.yaml"
        self.engine = make_engine(f"sqlite:///{tmp_path / 'shep.db'}")
        self.sessions = make_sessions(self.engine)

    async def start(self, *, seed: dict) -> RegistryBook:
        book = await self.unloaded(seed=seed)
        await book.seed_registry()
        await book.load_registry()
        return book

    async def unloaded(self, *, seed: dict) -> RegistryBook:
        self.seed_file.write_text(yaml.safe_dump(seed, allow_unicode=True))
        await create_tables(self.engine, models=MODELS)
        return RegistryBook(settings=GatewaySettings(registry_file=self.seed_file), sessions=self.sessions,
                            bus=MemoryBus(broker=MemoryBroker()), clock=MeshClock())


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    handle = Gateway(tmp_path=tmp_path)
    yield handle
    await handle.engine.dispose()


def _callers(book: RegistryBook) -> tuple[str, ...]:
    return book.registry.services["gbdfl.person-by-iin"].callers


async def test_an_entry_nobody_changed_follows_the_seed_file_on_restart(gateway: Gateway):
    assert _callers(await gateway.start(seed=_seed(callers=["portal"]))) == ("portal",)
    assert _callers(await gateway.start(seed=_seed(callers=["portal", "shep"]))) == ("portal", "shep")


async def test_an_entry_changed_through_the_admin_api_is_kept_when_the_seed_file_changes(gateway: Gateway):
    book = await gateway.start(seed=_seed(callers=["portal"]))
    await book.upsert_service(ServiceDef(id="gbdfl.person-by-iin", title="person", channel="sync",
                                         providers=("gbdfl",), callers=("portal", "gbdfl")))
    restarted = await gateway.start(seed=_seed(callers=["portal", "shep"]))
    assert _callers(restarted) == ("portal", "gbdfl")


async def test_a_database_from_before_seed_marks_takes_the_seed_file(gateway: Gateway):
    await gateway.start(seed=_seed(callers=["portal"]))
    async with gateway.sessions() as session, session.begin():
        for mark in (await session.exec(select(SeedMark))).all():
            await session.delete(mark)
    assert _callers(await gateway.start(seed=_seed(callers=["portal", "shep"]))) == ("portal", "shep")


async def test_an_entry_the_seed_file_no_longer_names_is_kept(gateway: Gateway):
    seed = _seed(callers=["portal"])
    await gateway.start(seed=seed)
    book = await gateway.start(seed={"members": seed["members"], "services": []})
    assert "gbdfl.person-by-iin" in book.registry.services


async def test_before_its_registry_is_loaded_the_gateway_says_so_and_takes_no_changes(gateway: Gateway):
    """Members starting beside the gateway must not read an empty registry as "nobody is registered"."""
    await gateway.start(seed=_seed(callers=["portal"]))
    book = await gateway.unloaded(seed=_seed(callers=["portal"]))
    with pytest.raises(MeshError) as refused:
        await book.upsert_service(ServiceDef(id="gbdfl.person-by-iin", title="person", channel="sync",
                                             providers=("gbdfl",), callers=("gbdfl",)))
    assert (refused.value.code, refused.value.status) == ("GATEWAY_NOT_READY", 503)
    with pytest.raises(MeshError, match="not loaded its registry"):
        await book.register_certificate(member_id="portal", pem="")
    await book.load_registry()
    assert _callers(book) == ("portal",)
