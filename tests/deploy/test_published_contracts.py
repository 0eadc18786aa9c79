"""The published contracts are the enforced ones: docs/asyncapi.json is regenerated from the code and must match;
it names every registered contract, its exchanges are the ones the topology declares, and its examples fit their
own schemas and open, as JWE, with a stock JOSE library. (The official validator: test_asyncapi_validates.py.)"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from joserfc import jwe
from joserfc.jwk import ECKey

from meshkit.asyncapi import EXAMPLE_KID, build, example_recipient_key, render, seed_registry
from meshkit.mesh_runner import REPO_ROOT
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.contracts import ANY_SERVICE, registered_contracts
from shared.mesh.topology import declare_gateway, declare_member, member_queue, member_sync_queue

DOC = build()
MESSAGES = DOC["components"]["messages"]


def test_asyncapi_document_is_current():
    committed = (REPO_ROOT / "docs" / "asyncapi.json").read_text()
    assert committed == render(), "docs/asyncapi.json is stale: run `make docs`"


def _pointer(path: str) -> Any:
    node: Any = DOC
    for part in path.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if isinstance(node.get("$ref"), str) else [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_asyncapi_3_lists_every_contract_and_resolves_every_reference():
    assert DOC["asyncapi"].startswith("3.")
    for service_id, message_type in registered_contracts():
        key = "ERROR" if service_id == ANY_SERVICE else f"{service_id}.{message_type.value}"
        assert key in MESSAGES, key
    for ref in _refs(DOC):
        assert ref.startswith("#/"), ref
        _pointer(ref)  # a KeyError names the dangling reference


def test_every_registry_service_can_be_called_and_served():
    operations = DOC["operations"]
    for service in seed_registry().services:
        camel = "".join(p[:1].upper() + p[1:] for p in service.id.replace("-", ".").split("."))
        ask, serve = ("call", "answer") if service.channel == "sync" else ("send", "receive")
        assert operations[f"{ask}{camel}"]["action"] == "send"
        assert operations[f"{serve}{camel}"]["action"] == "receive"
        if service.channel == "sync":
            assert operations[f"{ask}{camel}"]["reply"]["channel"] == {"$ref": "#/channels/replies"}
            assert operations[f"{ask}{camel}"]["channel"] == {"$ref": "#/channels/ingressSync"}, "the fast lane"
            assert operations[f"{serve}{camel}"]["reply"]["channel"] == {"$ref": "#/channels/ingressSync"}


async def test_the_channels_are_the_exchanges_and_bindings_the_topology_declares():
    broker = MemoryBroker()
    bus = MemoryBus(broker=broker)
    await bus.connect()
    await declare_gateway(bus)
    await declare_member(bus, member_id="portal")
    bound_to = {"ingress": "shep.ingress", "ingressSync": "shep.ingress.sync", "delivery": member_queue("portal"),
                "syncDelivery": member_sync_queue("portal"), "deadLetters": "mesh.dead-letters"}
    for name, channel in DOC["channels"].items():
        amqp = channel["bindings"]["amqp"]
        if amqp["is"] == "queue":
            continue  # the reply queue: each caller's own, named in reply_to
        exchange = broker.exchanges[amqp["exchange"]["name"]]
        assert exchange.kind == amqp["exchange"]["type"], name
        if name in bound_to:
            key = "" if exchange.kind == "fanout" else channel["address"].replace("{memberId}", "portal")
            assert (bound_to[name], key) in exchange.bindings, name


def _validator(schema: dict[str, Any]) -> jsonschema_rs.Draft7Validator:
    """``schema`` with the document's components beside it, so its #/components references resolve."""
    return jsonschema_rs.Draft7Validator({**schema, "components": DOC["components"]})


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_example_fits_its_schemas(key):
    message = MESSAGES[key]
    assert message["examples"], f"{key} has no example"
    payload, headers = _validator(message["payload"]), _validator(message["headers"])
    for example in message["examples"]:
        payload.validate(example["payload"])
        headers.validate(example["headers"])
    for part in message["payload"].get("allOf", []):
        plaintext = part.get("properties", {}).get("encrypted", {}).get("x-jwe-plaintext")
        if plaintext is not None:
            for example in plaintext["examples"]:
                _validator(plaintext).validate(example)


@pytest.mark.parametrize("key", sorted(k for k, m in MESSAGES.items() if "encrypted" in m["examples"][0]["payload"]))
def test_every_example_jwe_opens_with_a_stock_jose_library_to_the_plaintext_shown(key):
    message = MESSAGES[key]
    plaintext = message["payload"]["allOf"][1]["properties"]["encrypted"]["x-jwe-plaintext"]["examples"][0]
    pem = example_recipient_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption())
    opened = jwe.decrypt_compact(message["examples"][0]["payload"]["encrypted"], ECKey.import_key(pem))
    assert opened.protected["kid"] == EXAMPLE_KID
    assert orjson.loads(opened.plaintext) == plaintext
