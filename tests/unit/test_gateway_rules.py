"""The gateway's registry rules: deny by default, route by district, answers only to who asked."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import yaml

from services.shep_gateway.district_routing import district_from_answer
from services.shep_gateway.domain import (
    Destination,
    DistrictLookup,
    MemberDef,
    PriorRequest,
    Refusal,
    Registry,
    RegistryFile,
    ServiceDef,
    ServiceGrant,
    granted,
    record_hash,
)
from services.shep_gateway.settings import DEFAULT_REGISTRY
from shared.errors import MeshError
from shared.mesh.envelope import Envelope, MessageType, parse_envelope


def _member(member_id: str, district: str | None = None) -> MemberDef:
    return MemberDef(id=member_id, name=member_id, organisation="org", bin="940140000385", district=district)


REGISTRY = Registry(
    members={m.id: m for m in [_member("portal"), _member("con"), _member("gbdfl"), _member("mio.almaty", "almaty"),
                               _member("mio.mamlyut", "mamlyut")]},
    services={s.id: s for s in [
        ServiceDef(id="gbdfl.person-by-iin", title="t", channel="sync", providers=("gbdfl",),
                   callers=("portal", "con", "mio.*")),
        ServiceDef(id="employment.cert", title="t", channel="async", providers=("mio.almaty", "mio.mamlyut"),
                   routeBy="district", callers=("portal",), notify=("portal", "con")),
    ]})


def _env(**fields) -> Envelope:
    base = {"messageId": str(uuid.uuid4()), "correlationId": "case-1", "serviceId": "employment.cert",
            "messageType": "REQUEST", "messageDate": dt.datetime.now(dt.UTC).isoformat(), "sender": "portal",
            "data": {}, "signature": "x"}
    return Envelope.model_validate({**base, **fields})


def test_seed_registry_file_is_valid_and_self_consistent():
    parsed = RegistryFile.model_validate(yaml.safe_load(DEFAULT_REGISTRY.read_text()))
    members = {m.id for m in parsed.members}
    assert {"shep", "portal", "con", "gbdfl"} <= members
    for service in parsed.services:
        assert set(service.providers) <= members, service.id


@pytest.mark.parametrize(("fields", "code"), [
    ({"serviceId": "employment.nothing"}, "Client.UnknownService"),
    ({"sender": "con"}, "Client.AccessDenied"),
    ({}, "Client.RouteRequired"),
    ({"routeId": "astana"}, "Client.UnknownRoute"),
    ({"routeId": "almaty", "recipient": "mio.mamlyut"}, "Client.RecipientMismatch"),
])
def test_requests_are_refused_with_their_reason(fields, code):
    decision = REGISTRY.route(_env(**fields), prior=None)
    assert isinstance(decision, Refusal)
    assert decision.code == code


def test_a_request_naming_no_district_is_looked_up_by_its_applicant():
    form = {"form": {"applicantIin": "850701300007"}}
    assert REGISTRY.route(_env(data=form), prior=None) == DistrictLookup(service_id="employment.cert",
                                                                         applicant_iin="850701300007")
    found = REGISTRY.route_request(_env(data=form), looked_up_district="mamlyut")
    assert isinstance(found, Destination)
    assert found.recipient == "mio.mamlyut"
    elsewhere = REGISTRY.route_request(_env(data=form), looked_up_district="kokshetau")
    assert isinstance(elsewhere, Refusal)
    assert (elsewhere.code, "registered in 'kokshetau'" in elsewhere.message) == ("Client.UnknownRoute", True)
    named = REGISTRY.route_request(_env(data=form, routeId="almaty"), looked_up_district=None)
    assert isinstance(named, Destination)
    assert named.recipient == "mio.almaty"


def _answer(message_type: str, data: dict) -> Envelope:
    return _env(messageType=message_type, sender="gbdfl", serviceId="gbdfl.person-by-iin", data=data)


def test_the_district_is_read_from_gbdfls_answer_or_the_refusal_says_why():
    person = {"iin": "850701300007", "surname": "A", "name": "B", "birthDate": "1985-07-01", "sex": "M",
              "region": "almaty", "district": "almaty", "address": "x"}
    assert district_from_answer(_answer("RESPONSE", {"found": True, "person": person})) == "almaty"
    missing = district_from_answer(_answer("RESPONSE", {"found": False, "message": "нет данных"}))
    assert missing == Refusal("Client.RouteUnresolved", "ГБД ФЛ has no person with the applicant's IIN; "
                                                        "name the district in routeId")
    failed = district_from_answer(_answer("ERROR", {"code": "IIN_BAD_CHECK_DIGIT", "message": "bad",
                                                    "where": "provider"}))
    assert isinstance(failed, Refusal)
    assert "IIN_BAD_CHECK_DIGIT" in failed.message


def test_requests_route_to_the_district_and_sync_to_its_own_queue():
    decision = REGISTRY.route(_env(routeId="mamlyut"), prior=None)
    assert decision == Destination(recipient="mio.mamlyut", exchange="shep.delivery", routing_key="mio.mamlyut",
                                   channel="async")
    sync = REGISTRY.route(_env(serviceId="gbdfl.person-by-iin", sender="mio.almaty"), prior=None)
    assert isinstance(sync, Destination)
    assert sync.routing_key == "gbdfl.sync"


@pytest.mark.parametrize(("fields", "code"), [
    ({"sender": "portal", "recipient": "con"}, "Client.AccessDenied"),  # only a provider notifies
    ({"sender": "mio.almaty"}, "Client.RecipientRequired"),
    ({"sender": "mio.almaty", "recipient": "gbdfl"}, "Client.AccessDenied"),  # gbdfl does not follow the service
])
def test_notifications_go_only_from_providers_to_followers(fields, code):
    decision = REGISTRY.route(_env(messageType="NOTIFICATION", **fields), prior=None)
    assert isinstance(decision, Refusal)
    assert decision.code == code
    ok = REGISTRY.route(_env(messageType="NOTIFICATION", sender="mio.almaty", recipient="con"), prior=None)
    assert isinstance(ok, Destination)


def _prior(**fields) -> PriorRequest:
    base = {"message_id": str(uuid.uuid4()), "sender": "portal", "recipient": "mio.almaty",
            "service_id": "employment.cert"}
    return PriorRequest(**{**base, **fields})


@pytest.mark.parametrize(("prior", "fields", "code"), [
    (None, {"inReplyTo": str(uuid.uuid4())}, "Client.UnknownRequest"),
    (_prior(), {}, "Client.InReplyToRequired"),
    (_prior(recipient="mio.mamlyut"), {"inReplyTo": str(uuid.uuid4())}, "Client.AccessDenied"),
    (_prior(), {"inReplyTo": str(uuid.uuid4()), "recipient": "con"}, "Client.RecipientMismatch"),
    (_prior(sync_state="TIMED_OUT"), {"inReplyTo": str(uuid.uuid4())}, "Server.LateResponse"),
    (_prior(sync_state="ANSWERED"), {"inReplyTo": str(uuid.uuid4())}, "Client.DuplicateResponse"),
])
def test_answers_go_only_to_who_asked_from_who_was_asked(prior, fields, code):
    decision = REGISTRY.route(_env(messageType="RESPONSE", sender="mio.almaty", **fields), prior=prior)
    assert isinstance(decision, Refusal)
    assert decision.code == code


def test_a_sync_answer_goes_to_the_callers_reply_queue():
    decision = REGISTRY.route(_env(messageType="RESPONSE", sender="mio.almaty", inReplyTo=str(uuid.uuid4())),
                              prior=_prior(sync_state="PENDING", reply_to="amq.gen-1"))
    assert decision == Destination(recipient="portal", exchange="", routing_key="amq.gen-1", channel="sync",
                                   reply_to_caller=True)


def test_record_hash_depends_on_every_chained_field():
    fields = dict.fromkeys(("messageId", "correlationId", "serviceId", "messageType", "sender", "recipient",
                            "routeId", "inReplyTo", "messageDate", "errorCode", "errorReason", "payloadDigest"))
    fields.update(seq=1, receivedAt="t", outcome="ROUTED", envelopeDigest="d", checks={}, prevHash="0" * 64)
    original = record_hash(fields)
    for key in fields:
        changed = dict(fields)
        changed[key] = "changed" if fields[key] != "changed" else "other"
        assert record_hash(changed) != original, key


@pytest.mark.parametrize(("body", "fragment"), [
    (b"not json", "not JSON"),
    (b"[]", "JSON object"),
    (b'{"messageId": "x"}', "messageId"),
])
def test_unparsable_envelopes_are_refused_naming_the_fault(body, fragment):
    with pytest.raises(MeshError) as caught:
        parse_envelope(body)
    assert caught.value.code == "Client.InvalidEnvelope"
    assert fragment in caught.value.message


def test_envelope_rejects_unknown_fields_and_bad_message_types():
    with pytest.raises(Exception, match="extra"):
        _env(surprise=1)
    with pytest.raises(Exception, match="messageType"):
        _env(messageType="SHOUT")
    assert _env().message_type is MessageType.REQUEST


# ---- grants add, never remove ----------------------------------------------------------------------------------
def test_a_grant_adds_members_and_keeps_everyone_elses_rights():
    """Before: the README's snippet replaced gbdfl.person-by-iin to add one caller, dropping `shep` (the gateway's
    own district lookups) and renaming the service."""
    lookup = REGISTRY.services["gbdfl.person-by-iin"]
    after = granted(service_id=lookup.id, current=lookup, grant=ServiceGrant(
        channel="sync", title="renamed?", callers=("tester.one", "portal")))
    assert after.callers == ("portal", "con", "mio.*", "tester.one")
    assert (after.title, after.channel, after.providers) == (lookup.title, lookup.channel, lookup.providers)
    assert granted(service_id=lookup.id, current=after, grant=ServiceGrant(callers=("tester.one",))) == after


def test_a_grant_creates_a_service_only_when_it_says_how():
    created = granted(service_id="test.new", current=None, grant=ServiceGrant(channel="async", providers=("p",)))
    assert (created.title, created.channel, created.providers, created.callers) == ("test.new", "async", ("p",), ())
    with pytest.raises(MeshError) as missing:
        granted(service_id="test.new", current=None, grant=ServiceGrant(callers=("c",)))
    assert (missing.value.code, missing.value.status) == ("SERVICE_NOT_FOUND", 404)


@pytest.mark.parametrize("grant", [ServiceGrant(channel="async"), ServiceGrant(route_by="district")])
def test_a_grant_does_not_change_how_a_service_is_reached(grant: ServiceGrant):
    with pytest.raises(MeshError) as conflict:
        granted(service_id="gbdfl.person-by-iin", current=REGISTRY.services["gbdfl.person-by-iin"], grant=grant)
    assert (conflict.value.code, conflict.value.status) == ("GRANT_CONFLICT", 409)
