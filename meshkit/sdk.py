"""The test-identity kit for scripts: find a running mesh, mint citizens in one call, sign, log in.

    from meshkit.sdk import Mesh
    mesh = Mesh.from_file()                       # var/mesh.json, written by `make run`
    citizen = mesh.new_citizen(district="almaty") # ГБД ФЛ person + НУЦ certificates + portal account
    session = mesh.login_eds(citizen)             # or mesh.login(citizen.iin, citizen.password)
    print(session.profile())                      # the citizen's data as ГБД ФЛ holds it

Everything goes through the services' public and admin HTTP APIs; nothing here reaches into a database.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import string
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from meshkit.mesh_runner import REPO_ROOT
from shared.canonical import canonical_bytes
from shared.signing import SignerIdentity, sign_detached

DEFAULT_MESH_FILE = REPO_ROOT / "var" / "mesh.json"


class KitError(RuntimeError):
    """A service refused what the kit asked; ``code`` is the service's machine-readable reason."""

    def __init__(self, *, code: str, message: str, status: int) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code = code
        self.message = message
        self.status = status


def _checked(reply: httpx.Response) -> Any:
    if reply.status_code >= 400:
        try:
            body = reply.json()
        except ValueError:
            body = {"code": "HTTP_ERROR", "message": reply.text[:300]}
        raise KitError(code=body.get("code", "HTTP_ERROR"), message=body.get("message", ""), status=reply.status_code)
    return reply.json() if reply.content else None


def strong_password() -> str:
    """A password the portal's policy accepts."""
    alphabet = string.ascii_letters + string.digits
    return "Kz" + "".join(secrets.choice(alphabet) for _ in range(10)) + "7!"


@dataclass(frozen=True)
class MeshInfo:
    gateway: str
    nuc: str
    portal: str
    gbd_fl: str
    con: str
    mio: str
    admin_token: str
    amqp_url: str | None = None

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> MeshInfo:
        path = Path(path or os.environ.get("MESH_FILE") or DEFAULT_MESH_FILE)
        if not path.exists():
            raise KitError(code="MESH_NOT_FOUND", status=0,
                           message=f"{path} does not exist: start the mesh with `make run`, or pass --mesh")
        data = json.loads(path.read_text())
        urls = {name: item["url"] for name, item in data["services"].items()}
        return cls(gateway=urls["shep_gateway"], nuc=urls["nuc_pki"], portal=urls["portal"], gbd_fl=urls["gbd_fl"],
                   con=urls["con_operator"], mio=urls["mio_workstation"], admin_token=data["adminToken"],
                   amqp_url=data.get("amqpUrl"))


@dataclass
class Citizen:
    """Everything needed to act as one synthetic citizen."""

    iin: str
    surname: str
    name: str
    patronymic: str | None
    district: str
    birth_date: str
    sex: str
    password: str | None
    pkcs12_password: str
    signing_p12: bytes = field(repr=False)
    auth_p12: bytes = field(repr=False)
    created: bool = False

    def signer(self, *, usage: str = "sign") -> SignerIdentity:
        blob = self.signing_p12 if usage == "sign" else self.auth_p12
        return SignerIdentity.from_pkcs12(data=blob, password=self.pkcs12_password)

    def sign(self, value: Any, *, usage: str = "sign") -> str:
        """Base64 detached CMS over the RFC 8785 form of ``value``, with the signing (or auth) key."""
        return base64.b64encode(sign_detached(content=canonical_bytes(value), signer=self.signer(usage=usage))).decode()

    def application_form(self, service_id: str, **fields: Any) -> dict[str, Any]:
        """A filled application form for a service (fields such as periodFrom, periodTo, referralKind)."""
        form = {"serviceId": service_id, "applicantIin": self.iin, "surname": self.surname, "name": self.name,
                "filledAt": dt.datetime.now(dt.UTC).isoformat(), **fields}
        if self.patronymic:
            form["patronymic"] = self.patronymic
        return form

    def signed_request(self, service_id: str, **fields: Any) -> dict[str, Any]:
        """The form and the citizen's EDS over it (signing key), ready to send."""
        form = self.application_form(service_id, **fields)
        return {"form": form, "formSignature": self.sign(form)}

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "signing.p12").write_bytes(self.signing_p12)
        (directory / "auth.p12").write_bytes(self.auth_p12)
        record = {k: v for k, v in asdict(self).items() if k not in ("signing_p12", "auth_p12")}
        record |= {"signingP12": "signing.p12", "authP12": "auth.p12"}
        (directory / "citizen.json").write_text(json.dumps(record, ensure_ascii=False, indent=2))
        for name in ("citizen.json", "signing.p12", "auth.p12"):
            (directory / name).chmod(0o600)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Citizen:
        directory = Path(directory)
        record = json.loads((directory / "citizen.json").read_text())
        return cls(**{k: v for k, v in record.items() if k not in ("signingP12", "authP12")},
                   signing_p12=(directory / record["signingP12"]).read_bytes(),
                   auth_p12=(directory / record["authP12"]).read_bytes())


@dataclass
class PortalSession:
    mesh: Mesh
    iin: str
    token: str
    method: str
    expires_at: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def me(self) -> dict[str, Any]:
        return _checked(self.mesh.http.get(f"{self.mesh.info.portal}/me", headers=self.headers))

    def profile(self) -> dict[str, Any]:
        return _checked(self.mesh.http.get(f"{self.mesh.info.portal}/citizens/{self.iin}/profile",
                                           headers=self.headers))

    def logout(self) -> None:
        _checked(self.mesh.http.post(f"{self.mesh.info.portal}/auth/logout", headers=self.headers))

    def apply(self, request: dict[str, Any], *, district: str | None = None) -> dict[str, Any]:
        """Send a signed application (``Citizen.signed_request``) through the portal."""
        body = dict(request) | ({"district": district} if district else {})
        return _checked(self.mesh.http.post(f"{self.mesh.info.portal}/citizens/{self.iin}/applications",
                                            headers=self.headers, json=body))

    def applications(self) -> list[dict[str, Any]]:
        return _checked(self.mesh.http.get(f"{self.mesh.info.portal}/citizens/{self.iin}/applications",
                                           headers=self.headers))["applications"]

    def notifications(self) -> list[dict[str, Any]]:
        return _checked(self.mesh.http.get(f"{self.mesh.info.portal}/citizens/{self.iin}/notifications",
                                           headers=self.headers))["notifications"]


class Mesh:
    def __init__(self, info: MeshInfo, *, timeout_s: float = 30.0) -> None:
        self.info = info
        self.http = httpx.Client(timeout=timeout_s)

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> Mesh:
        return cls(MeshInfo.from_file(path))

    @property
    def _admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.info.admin_token}"}

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Mesh:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def new_citizen(self, *, district: str | None = None, region: str | None = None, sex: str | None = None,
                    age: int | None = None, min_age: int | None = None, max_age: int | None = None,
                    employed: bool | None = None, register: bool = True, password: str | None = None,
                    pkcs12_password: str | None = None) -> Citizen:
        """A citizen no other test is using: a ГБД ФЛ person (picked, or created when none is left), their
        signing and authentication certificates from НУЦ, and — unless ``register`` is False — a portal
        account with ``password`` (a strong one is made up when not given)."""
        wanted = {"district": district, "region": region, "sex": sex, "employed": employed,
                  "minAge": age if age is not None else min_age, "maxAge": age if age is not None else max_age}
        for _ in range(10):
            person = _checked(self.http.post(f"{self.info.gbd_fl}/admin/people/claim", headers=self._admin,
                                             json={k: v for k, v in wanted.items() if v is not None}))
            # After a population reset a seeded person may still have a portal account from before: skip them.
            if not register or self._account_missing(person["iin"]):
                break
        else:
            raise KitError(code="NO_FREE_PERSON", status=409,
                           message="every matching person already has a portal account; reset the population")
        pkcs12_password = pkcs12_password or secrets.token_urlsafe(12)
        certificates = _checked(self.http.post(f"{self.info.nuc}/certificates/individual", headers=self._admin, json={
            "iin": person["iin"], "surname": person["surname"], "name": person["name"],
            "patronymic": person.get("patronymic"), "pkcs12Password": pkcs12_password}))
        citizen = Citizen(
            iin=person["iin"], surname=person["surname"], name=person["name"], patronymic=person.get("patronymic"),
            district=person["district"], birth_date=person["birthDate"], sex=person["sex"], password=None,
            pkcs12_password=pkcs12_password, created=person["created"],
            signing_p12=base64.b64decode(certificates["signing"]["pkcs12Base64"]),
            auth_p12=base64.b64decode(certificates["authentication"]["pkcs12Base64"]))
        if register:
            citizen.password = password or strong_password()
            self.register(citizen.iin, citizen.password)
        return citizen

    def _account_missing(self, iin: str) -> bool:
        reply = self.http.get(f"{self.info.portal}/admin/accounts/{iin}", headers=self._admin)
        return reply.status_code == 404

    def register(self, iin: str, password: str) -> dict[str, Any]:
        return _checked(self.http.post(f"{self.info.portal}/auth/register", json={"iin": iin, "password": password}))

    def login(self, iin: str, password: str) -> PortalSession:
        body = _checked(self.http.post(f"{self.info.portal}/auth/login", json={"iin": iin, "password": password}))
        return PortalSession(mesh=self, iin=body["iin"], token=body["token"], method=body["method"],
                             expires_at=body["expiresAt"])

    def challenge(self, *, purpose: str = "login") -> dict[str, Any]:
        return _checked(self.http.post(f"{self.info.portal}/auth/challenges", json={"purpose": purpose}))

    def login_eds(self, citizen: Citizen) -> PortalSession:
        """Sign a fresh portal challenge with the citizen's authentication key and log in with it."""
        challenge = self.challenge(purpose="login")
        body = _checked(self.http.post(f"{self.info.portal}/auth/login/eds", json={
            "challengeId": challenge["challengeId"], "signature": citizen.sign(challenge, usage="auth")}))
        return PortalSession(mesh=self, iin=body["iin"], token=body["token"], method=body["method"],
                             expires_at=body["expiresAt"])
