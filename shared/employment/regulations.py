"""Regulations as data: one YAML file per region × service × channel, validated when the service starts.

A file that does not fit the schema stops the service with a message naming the file and the field;
adding a region is adding a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.mesh.contracts import EMPLOYMENT_SERVICES, ApplicationForm
from shared.working_calendar import CountingRule

REGULATIONS_DIR = Path(__file__).with_name("regulations")
Role = Literal["clerk", "head", "executor", "specialist", "centre_specialist", "employee"]
Channel = Literal["office", "portal", "con"]
Applicant = Literal["individual", "organisation"]
REFERRAL_SERVICE = "employment.active-measures-referral"
# every referral kind an application form may name; each referral regulation offers some of them (referralKinds)
REFERRAL_KINDS: tuple[str, ...] = tuple(
    value for arg in get_args(ApplicationForm.model_fields["referral_kind"].annotation) for value in get_args(arg))


class Action(StrEnum):
    """What staff do in a step, in this order (assign may be absent)."""

    ACCEPT = "accept"
    ASSIGN = "assign"
    DECIDE = "decide"
    SIGN = "sign"
    ISSUE = "issue"


_ORDER: tuple[Action, ...] = tuple(Action)


class RegulationError(Exception):
    """A regulation file is unusable; the message names the file and the field."""


class Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)


class Duration(Model):
    minutes: int | None = Field(default=None, gt=0, le=24 * 60)
    working_days: int | None = Field(default=None, alias="workingDays", gt=0, le=60)
    counting: CountingRule | None = None

    @model_validator(mode="after")
    def _one_unit(self) -> Duration:
        if (self.minutes is None) == (self.working_days is None):
            raise ValueError("give exactly one of minutes or workingDays")
        if self.working_days is not None and self.counting is None:
            raise ValueError("a term in working days names its counting rule")
        return self

    def describe(self) -> str:
        if self.minutes is not None:
            return f"{self.minutes} min"
        return f"{self.working_days} working day(s), {self.counting.value if self.counting else ''}"


class Step(Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    role: Role
    does: tuple[Action, ...] = Field(min_length=1)
    max: Duration
    action: str = Field(min_length=1)
    result: str = Field(min_length=1)
    source: str = Field(min_length=1, description="the clause of the regulation this step comes from")


class CentreEvent(StrEnum):
    """What ИС ЦОН records of a visit, in the order it happens; a ЦОН-side step runs from one to a later one."""

    CALLED = "called"  # the operator calls the citizen's ticket
    LOOKED_UP = "looked_up"  # ГБД ФЛ answered: the form is filled
    SENT = "sent"  # signed and sent through the gateway
    RESULT_SENT = "result_sent"  # ИС МИО's final notice, as stamped by ИС МИО
    RESULT_SHOWN = "result_shown"  # ИС ЦОН received it and shows it
    RESULT_FORMED = "result_formed"  # the State Corporation's worker formed the result (where it is theirs)
    HAND_OUT_STARTED = "hand_out_started"  # the result is ready and the citizen is at the desk (ticket called)
    HANDED_OUT = "handed_out"


_EVENTS: tuple[CentreEvent, ...] = tuple(CentreEvent)


class CentreStep(Model):
    """One action the ЦОН side does, with its maximum from the regulation: measured between two events."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    start: CentreEvent = Field(alias="from")
    end: CentreEvent = Field(alias="to")
    max: Duration
    action: str = Field(min_length=1)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _forward(self) -> CentreStep:
        if _EVENTS.index(self.end) <= _EVENTS.index(self.start):
            raise ValueError(f"'to' ({self.end}) must come after 'from' ({self.start})")
        if self.max.minutes is None:
            raise ValueError("a ЦОН-side step is measured in minutes")
        return self


class Centre(Model):
    """The ЦОН side of a regulation's «через Государственную корпорацию» channel (read by ИС ЦОН)."""

    signed_by: tuple[Literal["applicant", "operator"], ...] = Field(alias="signedBy", min_length=1)
    forms_result: str | None = Field(default=None, alias="formsResult", description=(
        "the document the State Corporation's worker forms from ИС МИО's record (004 п. 10); None: ИС МИО's "
        "signed result is handed out as it is"))
    steps: tuple[CentreStep, ...] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _coherent(self) -> Centre:
        if len({s.id for s in self.steps}) != len(self.steps):
            raise ValueError("step ids repeat")
        formed = any(CentreEvent.RESULT_FORMED in (s.start, s.end) for s in self.steps)
        if formed != (self.forms_result is not None):
            raise ValueError("formsResult and a step at result_formed go together")
        return self


class Term(Model):
    working_days: int = Field(alias="workingDays", gt=0, le=60)
    counting: CountingRule
    source: str


class Signature(Model):
    role: Role
    certificate_role: Literal["head", "signer"] = Field(alias="certificateRole")


class RegisterKeeper(Model):
    """Who enters the people this regulation registers on «Еңбек нарығы» — and so keeps their cards: closing one
    (снятие с учета) is theirs too. No seed speaks of closing a card; each registration regulation says who writes
    it (002 п. 6, пп. 4: «орындаушысы … "Еңбек нарығы" ААЖ енгізеді»)."""

    role: Role
    source: str = Field(min_length=1, description="the clause that has this role write the register")


REGISTERING_SERVICES = ("employment.job-seeker-registration", "employment.unemployed-registration")


class Outcome(Model):
    approve: str
    refuse: str


class Organisation(Model):
    """The local authority of a district the gateway does not know yet: the file brings it along."""

    name: str = Field(min_length=1, max_length=256)
    bin: str = Field(pattern=r"^\d{12}$")


class Regulation(Model):
    id: str
    act: str = Field(min_length=1, description="the act, as the project cites it")
    title: str
    service: str
    region: str
    issuer: str | None = Field(default=None, min_length=1, max_length=256, description=(
        "the issuing body as the seed names it (its п. 1), where it differs from or says more than the gateway's "
        "organisation; None: the result names the district's organisation"))
    districts: tuple[str, ...] = Field(min_length=1)
    channel: Channel
    applicants: tuple[Applicant, ...] = Field(default=("individual",), min_length=1, description=(
        "who may apply: a person (IIN), and where the seed's portal process says «ИИН/БИН» (001 п. 9) also an "
        "organisation (BIN) through its representative, the form signed with the organisation's certificate"))
    may_refuse_acceptance: bool = Field(default=False, alias="mayRefuseAcceptance")
    signature: Signature
    requires: Literal["job_seeker_card", "unemployed_card", "any_card"] | None = None
    referral_kinds: tuple[str, ...] | None = Field(default=None, alias="referralKinds", description=(
        "the kinds of active measure this regulation refers to (its list of results); the referral service only"))
    term: Term | None = None
    outcome: Outcome
    steps: tuple[Step, ...] = Field(min_length=2, max_length=10)
    processing: Literal["staff", "automatic"] = Field(default="staff", description=(
        "automatic: ИС МИО is only the register the ЦОН operator enters into (004 п. 9 пп. 7): every step is done "
        "by the system as it starts, whatever the district's mode"))
    notify_by_sms: bool = Field(default=False, alias="notifyBySms", description=(
        "the applicant is told the result by SMS (004 п. 5, registration as unemployed: «извещает … о дате "
        "регистрации … либо уведомляет об отказе»), to the form's phone or the one ГБД ФЛ holds"))
    notify_centre: bool = Field(default=False, alias="notifyCentre", description=(
        "ИС ЦОН hears every status change (003 routes every status to ИС ЦОН); ЦОН-channel files always do"))
    centre: Centre | None = None
    register_keeper: RegisterKeeper | None = Field(default=None, alias="registerKeeper", description=(
        "a registration regulation: the role that enters its people on «Еңбек нарығы»; staff of that role in the "
        "district close cards there"))
    organisations: dict[str, Organisation] = Field(
        default_factory=dict, description="per district: the organisation to register at the gateway if missing")

    @model_validator(mode="after")
    def _coherent(self) -> Regulation:
        self._check_service()
        self._check_steps()
        self._check_applicants()
        self._check_register_keeper()
        stray = set(self.organisations) - set(self.districts)
        if stray:
            raise ValueError(f"organisations names districts the file does not serve: {', '.join(sorted(stray))}")
        return self

    def _check_service(self) -> None:
        """An employment service, with referral kinds exactly when it is the referral service."""
        if self.service not in EMPLOYMENT_SERVICES:
            raise ValueError(f"service must be one of {', '.join(EMPLOYMENT_SERVICES)}")
        if (self.service == REFERRAL_SERVICE) != (self.referral_kinds is not None):
            raise ValueError(f"referralKinds is given for {REFERRAL_SERVICE}, and only for it")
        if self.referral_kinds is not None:
            if not self.referral_kinds:
                raise ValueError("referralKinds names at least one kind")
            unknown = [k for k in self.referral_kinds if k not in REFERRAL_KINDS]
            if unknown:
                raise ValueError(f"referralKinds: {', '.join(unknown)} not among {', '.join(REFERRAL_KINDS)}")
            if len(set(self.referral_kinds)) != len(self.referral_kinds):
                raise ValueError("referralKinds repeat")

    def _check_steps(self) -> None:
        """Accept, decide, sign and issue once each and in that order; the signing step's role the signature's."""
        actions = [a for step in self.steps for a in step.does]
        for needed in (Action.ACCEPT, Action.DECIDE, Action.SIGN, Action.ISSUE):
            if actions.count(needed) != 1:
                raise ValueError(f"steps must do '{needed}' exactly once (found {actions.count(needed)})")
        if actions != sorted(actions, key=_ORDER.index):
            raise ValueError(f"steps must run in the order {' → '.join(_ORDER)}")
        signer = next(s for s in self.steps if Action.SIGN in s.does)
        if signer.role != self.signature.role:
            raise ValueError(f"the signing step's role is {signer.role}, the signature names {self.signature.role}")
        if len({s.id for s in self.steps}) != len(self.steps):
            raise ValueError("step ids repeat")

    def _check_applicants(self) -> None:
        """The ЦОН side described on the ЦОН channel only; a person always among the applicants, an organisation
        never through ЦОН."""
        if (self.channel == "con") != (self.centre is not None):
            raise ValueError("the ЦОН channel, and only it, describes its ЦОН side (field centre)")
        if len(set(self.applicants)) != len(self.applicants):
            raise ValueError("applicants repeat")
        if "individual" not in self.applicants:
            raise ValueError("applicants include individual: every service decides on a person's facts")
        if "organisation" in self.applicants and self.channel == "con":
            raise ValueError("an organisation applies through the portal or at the office, not through ЦОН "
                             "(whose operator signs for a person present)")

    def _check_register_keeper(self) -> None:
        if self.register_keeper is not None:
            if self.service not in REGISTERING_SERVICES:
                raise ValueError(f"registerKeeper belongs to a regulation that puts people on «Еңбек нарығы» "
                                 f"({', '.join(REGISTERING_SERVICES)})")
            if self.register_keeper.role not in self.roles:
                raise ValueError(f"registerKeeper: {self.register_keeper.role} has no step in this regulation")

    def step_doing(self, action: Action) -> Step:
        return next(s for s in self.steps if action in s.does)

    @property
    def centre_hears(self) -> bool:
        return self.notify_centre or self.channel == "con"

    def signers(self) -> tuple[str, ...]:
        """Whose EDS may be on the form, by channel: the applicant's on the portal, the ЦОН's as its file says,
        the applicant's or the МИО employee's at the office — and the organisation's where organisations apply."""
        if self.centre is not None:
            return self.centre.signed_by
        own = ("applicant",) if self.channel == "portal" else ("applicant", "employee")
        return (*own, "organisation") if self.admits_organisations else own

    @property
    def admits_organisations(self) -> bool:
        return "organisation" in self.applicants

    @property
    def roles(self) -> set[str]:
        return {s.role for s in self.steps}


def document_kind_of(regulation: Regulation, *, approve: bool) -> str:
    """Which of the seeds' forms the result is (``shared.employment.documents`` lays each out)."""
    if not approve:
        return "refusal"
    if regulation.service == "employment.unemployed-registration":  # 004: извещение о дате; 002: анықтама
        return "unemployed-reference" if "справк" in regulation.outcome.approve else "unemployed"
    return {"employment.job-seeker-registration": "job-seeker", "employment.active-measures-referral": "referral",
            "employment.unemployed-certificate": "certificate"}.get(regulation.service, "generic")


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(file)"
    return f"field {where}: {first['msg']}"


def load_file(path: Path) -> Regulation:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RegulationError(f"{path.name}: not readable YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RegulationError(f"{path.name}: must be a mapping")
    try:
        regulation = Regulation.model_validate(data)
    except ValidationError as exc:
        raise RegulationError(f"{path.name}: {_describe(exc)}") from None
    if f"{regulation.id}.yaml" != path.name:
        raise RegulationError(f"{path.name}: field id: is {regulation.id!r}; the file must be named after it")
    return regulation


class RegulationBook:
    """Every regulation, and which one applies to a district, service and channel."""

    def __init__(self, regulations: Iterable[Regulation]) -> None:
        self.all = {r.id: r for r in regulations}
        self._by_key: dict[tuple[str, str, str], Regulation] = {}
        for regulation in self.all.values():
            for district in regulation.districts:
                key = (district, regulation.service, regulation.channel)
                if key in self._by_key:
                    raise RegulationError(f"{regulation.id}.yaml: field districts: {district} already has "
                                          f"{self._by_key[key].id} for this service and channel")
                self._by_key[key] = regulation

    @classmethod
    def load(cls, directory: Path = REGULATIONS_DIR) -> RegulationBook:
        files = sorted(directory.glob("*.yaml"))
        if not files:
            raise RegulationError(f"{directory}: no regulation files")
        return cls(load_file(f) for f in files)

    def find(self, *, district: str, service: str, channel: str) -> Regulation | None:
        return self._by_key.get((district, service, channel))

    def for_district(self, district: str) -> list[Regulation]:
        return [r for r in self.all.values() if district in r.districts]

    @property
    def districts(self) -> list[str]:
        """Every district some file serves, in the order the files name them."""
        return list(dict.fromkeys(d for r in self.all.values() for d in r.districts))

    def organisation(self, district: str) -> Organisation | None:
        return next((r.organisations[district] for r in self.for_district(district) if district in r.organisations),
                    None)

    def roles_in(self, district: str) -> set[str]:
        return {role for r in self.for_district(district) for role in r.roles}

    def register_keepers(self, district: str) -> list[str]:
        """The roles that keep «Еңбек нарығы» in a district: those its registration files name (none: its files
        register nobody, and its staff close no card)."""
        return sorted({r.register_keeper.role for r in self.for_district(district) if r.register_keeper})
