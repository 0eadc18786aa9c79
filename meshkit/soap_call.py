"""A system written for ШЭП calling the mesh with zeep, as a tester's own would (docs/soap.md): the client built from
the gateway's WSDL, each request signed with the member's key by zeep's own WS-Security (libxmlsec1), the gateway's
signature on each answer checked with gateway.pem — and the XML of both printed, as it crossed the wire.

    .venv/bin/python -m meshkit.soap_call portal.my-system sync --citizen var/citizens/demo
    .venv/bin/python -m meshkit.soap_call portal.my-system async --citizen var/citizens/demo

``sync`` looks the citizen up in ГБД ФЛ (SyncChannel ``SendMessage``; ``--iin`` for anyone else); ``async`` sends
the citizen's application, signed with their EDS, through AsyncChannel ``sendMessage``. The member's files are
those ``meshctl soap enrol`` wrote (var/soap/<member>); zeep and xmlsec come with the dev dependencies."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

from lxml import etree

from meshkit.sdk import Citizen, Mesh
from meshkit.soap import member_directory


def zeep_client(wsdl: str, member_dir: Path) -> tuple[Any, Any]:
    """A zeep client built from ``wsdl``: each request signed by zeep's own WS-Security (libxmlsec1, RSA-SHA256) with
    the member's ``key.pem``/``cert.pem``, each answer's signature checked with ``gateway.pem`` (the files
    ``SoapMember.write`` and ``meshctl soap enrol`` write); and its history (the messages as they crossed)."""
    import xmlsec
    import zeep
    from zeep.plugins import HistoryPlugin
    from zeep.wsse.signature import BinarySignature, verify_envelope

    class SignsAndChecks(BinarySignature):
        def verify(self, envelope: Any) -> Any:
            verify_envelope(envelope, str(member_dir / "gateway.pem"))
            return envelope

    history = HistoryPlugin()
    wsse = SignsAndChecks(str(member_dir / "key.pem"), str(member_dir / "cert.pem"),
                          signature_method=xmlsec.constants.TransformRsaSha256,
                          digest_method=xmlsec.constants.TransformSha256)
    return zeep.Client(wsdl, wsse=wsse, plugins=[history]), history


def sync_request(*, member: str, password: str, service_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """SyncChannel's ``request`` as zeep takes it: a new messageId, now, ``data`` as JSON text."""
    return {"requestInfo": {"messageId": str(uuid.uuid4()), "serviceId": service_id,
                            "messageDate": dt.datetime.now(dt.UTC), "sender": _sender(member, password)},
            "requestData": {"data": _data(data)}}


def _data(value: dict[str, Any]) -> Any:
    from zeep import xsd
    return xsd.AnyObject(xsd.String(), json.dumps(value, ensure_ascii=False))


def _sender(member: str, password: str) -> dict[str, str]:
    return {"senderId": member, "password": password}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("member", help="the SOAP member's id (meshctl soap enrol)")
    parser.add_argument("channel", choices=["sync", "async"])
    parser.add_argument("--iin", help="sync: the person looked up (default: the citizen's)")
    parser.add_argument("--service", default="employment.job-seeker-registration", help="async: the service")
    parser.add_argument("--citizen", type=Path, help="a directory from `meshctl new citizen`: the person looked up, "
                                                     "or the applicant whose EDS signs the application")
    parser.add_argument("--password", help="the member's password (default: asked of the gateway)")
    parser.add_argument("--mesh", type=Path, help="mesh.json (default var/mesh.json)")
    args = parser.parse_args()
    member_dir = member_directory(args.member)
    citizen = Citizen.load(args.citizen) if args.citizen else None
    with Mesh.from_file(args.mesh) as kit:
        credentials = kit.http.post(f"{kit.info.gateway}/admin/soap/members/{args.member}/credentials",
                                    headers={"Authorization": f"Bearer {kit.info.admin_token}"}).json()
        password = args.password or credentials["password"]
        if args.channel == "sync":
            client, history = zeep_client(credentials["syncUrl"] + "?wsdl", member_dir)
            answer = client.service.SendMessage(request=sync_request(
                member=args.member, password=password, service_id="gbdfl.person-by-iin",
                data={"iin": args.iin or (citizen.iin if citizen else None)}))
            summary = {"status": answer.responseInfo.status.code, "data": json.loads(answer.responseData.data)}
        else:
            if citizen is None:
                raise SystemExit("async needs --citizen: the application is signed with the citizen's EDS")
            application = citizen.signed_request(args.service) | {"signedBy": "applicant"}
            client, history = zeep_client(credentials["asyncUrl"] + "?wsdl", member_dir)
            answer = client.service.sendMessage(request={
                "messageInfo": {"serviceId": args.service, "messageType": "REQUEST",
                                "messageDate": dt.datetime.now(dt.UTC), "sender": _sender(args.member, password)},
                "messageData": {"data": _data(application)}})
            summary = {"messageId": answer.messageId, "correlationId": answer.correlationId}
    for label, sent in (("request", history.last_sent), ("response", history.last_received)):
        print(f"--- {label}")
        print(etree.tostring(sent["envelope"], pretty_print=True, encoding="unicode"))
    print(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
