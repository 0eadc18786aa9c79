"""What the portal's routes take: the JSON bodies, closed (``extra="forbid"``: an unknown field is the caller's
error, 422 ``REQUEST_INVALID``), with the mesh's camelCase aliases."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.portal.domain import PASSWORD_RULES
from shared.mesh.contracts import ATTACHMENT_TYPES, MAX_DOCUMENT_BYTES, MAX_DOCUMENTS, ApplicationForm
from shared.web.http_app import SQL_INT_MAX


class Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class RegisterIn(Body):
    iin: str = Field(description="12 digits; checked by the IIN rules and in ГБД ФЛ")
    password: str = Field(description="; ".join(f"{rule}: {text}" for rule, text in PASSWORD_RULES), max_length=256)
    email: str | None = Field(default=None, max_length=128, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+7\d{10}$")


class ChallengeIn(Body):
    purpose: Literal["login", "register"] = "login"


class EdsLoginIn(Body):
    challenge_id: str = Field(alias="challengeId", max_length=36)
    signature: str = Field(description="base64 detached CMS over the RFC 8785 form of the challenge, made with "
                                       "the authentication (AUTH) key", max_length=20_000)
    iin: str | None = Field(default=None, description="optional: the account meant; must be the certificate's")


class EdsRegisterIn(Body):
    challenge_id: str = Field(alias="challengeId", max_length=36)
    signature: str = Field(max_length=20_000)
    password: str | None = Field(default=None, max_length=256, description="optional: to log in with a password too")
    email: str | None = Field(default=None, max_length=128, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+7\d{10}$")


class CopyIn(Body):
    """An electronic copy of a document the form names (Standard п. 9): its SHA-256 is on the signed form."""

    content_type: str = Field(alias="contentType", max_length=128,
                              description=f"one of {', '.join(ATTACHMENT_TYPES)}")
    content_base64: str = Field(alias="contentBase64", max_length=4 * MAX_DOCUMENT_BYTES,
                                description=f"the copy, at most {MAX_DOCUMENT_BYTES} bytes")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="optional: checked if given")


class ApplyIn(Body):
    form: ApplicationForm
    attachments: list[CopyIn] = Field(default_factory=list, max_length=2 * MAX_DOCUMENTS,
                                      description="the content of each document the form names, and nothing else")
    form_signature: str = Field(alias="formSignature", max_length=20_000,
                                description="the citizen's EDS (signing key): CMS over the form's RFC 8785 form")
    district: str | None = Field(default=None, description="a district to apply to; by default the gateway routes "
                                                           "to the district of the registered address")


class OrganisationApplyIn(Body):
    form: ApplicationForm = Field(description="names the organisation (applicantBin) and its representative "
                                              "(representativeIin); applicantIin is the person the service is for")
    attachments: list[CopyIn] = Field(default_factory=list, max_length=2 * MAX_DOCUMENTS,
                                      description="the content of each document the form names, and nothing else")
    form_signature: str = Field(alias="formSignature", max_length=20_000,
                                description="the organisation's EDS (the representative's signing key of the "
                                            "organisation's certificate): CMS over the form's RFC 8785 form")
    district: str | None = Field(default=None, description="the district whose department the organisation "
                                                           "applies to (required: 422 DISTRICT_REQUIRED); the portal "
                                                           "looks up no one's address for an organisation")


class LoginIn(Body):
    iin: str
    password: str = Field(max_length=256)


class OrganisationRegisterIn(Body):
    bin: str = Field(max_length=32, description="the organisation's BIN, checked by the BIN rules; must be the "
                                                "certificate's (condition 2)")
    challenge_id: str = Field(alias="challengeId", max_length=36)
    signature: str = Field(max_length=20_000, description="the register challenge signed with the authentication "
                                                          "key of the organisation's certificate (IIN and BIN)")
    password: str | None = Field(default=None, max_length=256, description="optional: to log in with BIN, IIN and "
                                                                           "a password too")
    email: str | None = Field(default=None, max_length=128, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+7\d{10}$")


class OrganisationLoginIn(Body):
    bin: str = Field(max_length=32, description="the organisation's BIN")
    iin: str = Field(max_length=32, description="the representative's IIN")
    password: str = Field(max_length=256)


class OrganisationEdsLoginIn(Body):
    bin: str = Field(max_length=32, description="the organisation's BIN; must be the certificate's (condition 2)")
    challenge_id: str = Field(alias="challengeId", max_length=36)
    signature: str = Field(max_length=20_000, description="the login challenge signed with the authentication key "
                                                          "of the organisation's certificate")


class SurveyIn(Body):
    quality: int = Field(ge=1, le=3, description="1 не удовлетворен, 2 частично удовлетворен, 3 удовлетворен")
    information: int = Field(ge=1, le=3)


class ReadIn(Body):
    ids: list[Annotated[int, Field(ge=1, le=SQL_INT_MAX)]] | None = Field(default=None, max_length=1000,
                                                                          description="none: every unread one")
