"""What registration, login and the cabinet answer: accounts, logins, EDS challenges, who is logged in, a citizen's
data as ГБД ФЛ holds it."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field
from pydantic.json_schema import JsonDict

from services.portal.store import Account, OrganisationAccount
from shared.employment.logins import Login, LoginSession
from shared.web.models import CamelModel

IIN, BIN = "900101300123", "040540010011"
AT = "2026-03-02T09:15:00+00:00"
Method = Literal["password", "eds"]
ACCOUNT_EXAMPLE: JsonDict = {
    "iin": IIN, "registeredBy": "password", "registeredAt": AT, "email": "aigerim@example.kz", "phone": "+77011234567",
    "passwordSet": True, "lastLoginAt": AT, "lockedUntil": None}
ORGANISATION_ACCOUNT_EXAMPLE: JsonDict = {
    "bin": BIN, "iin": IIN, "organisation": "ТОО «Тест»", "registeredBy": "eds", "registeredAt": AT, "email": None,
    "phone": None, "passwordSet": False, "lastLoginAt": None, "lockedUntil": None}


def _iso(value: object) -> str | None:
    return value.isoformat() if value is not None else None  # type: ignore[attr-defined]


class AccountBase(CamelModel):
    """What every portal account shows of itself (never its password hash)."""

    email: str | None
    phone: str | None
    password_set: bool = Field(description="false: an EDS-only account")
    last_login_at: str | None
    locked_until: str | None = Field(description="set while wrong passwords keep it locked (mesh time)")


class AccountPublic(AccountBase):
    """A citizen's account."""

    model_config = ConfigDict(json_schema_extra={"examples": [ACCOUNT_EXAMPLE]})

    iin: str
    registered_by: Method
    registered_at: str

    @classmethod
    def of(cls, account: Account) -> AccountPublic:
        return cls(iin=account.iin, registered_by=account.registered_by,
                   registered_at=account.registered_at.isoformat(), email=account.email, phone=account.phone,
                   password_set=account.password_hash is not None, last_login_at=_iso(account.last_login_at),
                   locked_until=_iso(account.locked_until))


class OrganisationAccountPublic(CamelModel):
    """One representative's account of an organisation."""

    model_config = ConfigDict(json_schema_extra={"examples": [ORGANISATION_ACCOUNT_EXAMPLE]})

    bin: str
    iin: str = Field(description="the representative's")
    organisation: str
    registered_by: Literal["eds"]
    registered_at: str
    email: str | None
    phone: str | None
    password_set: bool
    last_login_at: str | None
    locked_until: str | None

    @classmethod
    def of(cls, account: OrganisationAccount) -> OrganisationAccountPublic:
        return cls(bin=account.bin, iin=account.iin, organisation=account.organisation,
                   registered_by=account.registered_by,
                   registered_at=account.registered_at.isoformat(), email=account.email, phone=account.phone,
                   password_set=account.password_hash is not None, last_login_at=_iso(account.last_login_at),
                   locked_until=_iso(account.locked_until))


class OrganisationAccountsOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"accounts": [ORGANISATION_ACCOUNT_EXAMPLE]}]})

    accounts: list[OrganisationAccountPublic]


class LoginPublic(CamelModel):
    """A citizen's login: the bearer token of the ``portalSession`` scheme."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token": "q3Vt0Yw6gS1o0J0mLr3oXbq2yJ9b5QvWZ1p7u8Lx0dE", "iin": IIN, "method": "password",
        "expiresAt": "2026-03-02T10:15:00+00:00"}]})

    token: str
    iin: str
    method: Method
    expires_at: str

    @classmethod
    def of(cls, login: Login) -> LoginPublic:
        return cls.model_validate(login.public())


class OrganisationLoginPublic(CamelModel):
    """An organisation's login: its BIN and the representative who logged in for it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token": "q3Vt0Yw6gS1o0J0mLr3oXbq2yJ9b5QvWZ1p7u8Lx0dE", "bin": BIN, "iin": IIN, "method": "eds",
        "expiresAt": "2026-03-02T10:15:00+00:00"}]})

    token: str
    bin: str
    iin: str = Field(description="the representative who logged in")
    method: Method
    expires_at: str

    @classmethod
    def of(cls, login: Login) -> OrganisationLoginPublic:
        return cls.model_validate(login.public())


class ChallengePublic(CamelModel):
    """What to sign with the authentication key (its RFC 8785 form): single use, until ``expiresAt`` (mesh time)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "audience": "egov-mesh portal", "challengeId": "0b7f7a52-3f55-4a43-9d0e-2f1c3f4b8a10",
        "nonce": "pQ0x8c2mJ1yHk3Lr5tV7wZ9aB1dF3hJ5lN7pR9tV1xY=", "purpose": "login", "issuedAt": AT,
        "expiresAt": "2026-03-02T09:20:00+00:00"}]})

    audience: str
    challenge_id: str
    nonce: str
    purpose: Literal["login", "register"]
    issued_at: str
    expires_at: str


class RegistrationRequested(CamelModel):
    """An anonymous registration's one answer, whatever the IIN."""

    status: Literal["REQUESTED"] = "REQUESTED"
    message: str


class LoggedOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"loggedOut": True}]})

    logged_out: bool


class SessionPublic(CamelModel):
    method: Method
    expires_at: str
    certificate_serial: str | None = Field(description="the certificate an EDS login was made with")


class OrganisationSessionPublic(SessionPublic):
    bin: str
    iin: str = Field(description="the representative who logged in")


class CitizenMe(AccountPublic):
    """A citizen logged in: their account and this login."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        **ACCOUNT_EXAMPLE,
        "session": {"method": "password", "expiresAt": AT, "certificateSerial": None}}]})

    session: SessionPublic

    @classmethod
    def of_login(cls, account: Account, login: LoginSession) -> CitizenMe:
        return cls(**AccountPublic.of(account).model_dump(), session=SessionPublic(
            method=login.method, expires_at=login.expires_at.isoformat(),
            certificate_serial=login.certificate_serial))


class OrganisationMe(OrganisationAccountPublic):
    """An organisation's representative logged in: their account of it and this login."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        **ORGANISATION_ACCOUNT_EXAMPLE,
        "session": {"method": "eds", "expiresAt": AT, "certificateSerial": "5f3a", "bin": BIN, "iin": IIN}}]})

    session: OrganisationSessionPublic

    @classmethod
    def of_login(cls, account: OrganisationAccount, login: LoginSession) -> OrganisationMe:
        assert login.representative_iin is not None
        return cls(**OrganisationAccountPublic.of(account).model_dump(), session=OrganisationSessionPublic(
            method=login.method, expires_at=login.expires_at.isoformat(),
            certificate_serial=login.certificate_serial, bin=login.subject, iin=login.representative_iin))


class ProfilePublic(CamelModel):
    """A person as ГБД ФЛ holds them (``gbdfl.person-by-iin``); what the registry does not hold is left out."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "iin": IIN, "surname": "Серикова", "name": "Айгерим", "patronymic": "Нурлановна", "surnameLatin": "Serikova",
        "nameLatin": "Aigerim", "birthDate": "1990-01-01", "sex": "F", "citizenship": "KZ", "region": "almaty-city",
        "regionName": "г. Алматы", "district": "almaty", "districtName": "Алмалинский район",
        "address": "г. Алматы, ул. Абая, 1", "alive": True}]})

    iin: str
    surname: str
    name: str
    patronymic: str | None = None
    surname_latin: str | None = None
    name_latin: str | None = None
    birth_date: str = Field(description="YYYY-MM-DD")
    sex: Literal["M", "F"]
    citizenship: str
    region: str
    region_name: str | None = None
    district: str
    district_name: str | None = None
    address: str
    phone: str | None = None
    alive: bool
    death_date: str | None = None
