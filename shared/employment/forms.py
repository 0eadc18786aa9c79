"""Each employment service's form: its structure and format rules («с учетом ее структуры и форматных
требований», seeds 000 and 003), labels in Russian and Kazakh, and the documents the Standard asks for.

One pydantic model per service gives both the JSON Schema the catalogue publishes and the check every intake
makes — the portal, ИС ЦОН and the МИО office refuse a form that does not fit at submission, with every field
error named, instead of letting it through to be refused at the end of the staff workflow. ИС МИО checks again
what comes through the gateway.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from shared.errors import MeshError
from shared.mesh.contracts import EMPLOYMENT_SERVICES, ApplicationForm

SERVICE_TITLES: dict[str, dict[str, str]] = {
    "employment.job-seeker-registration": {
        "ru": "Регистрация лиц, ищущих работу", "kk": "Жұмыс іздеп жүрген адамдарды тіркеу"},
    "employment.unemployed-registration": {
        "ru": "Регистрация лиц, ищущих работу, в качестве безработных",
        "kk": "Жұмыс іздеп жүрген адамдарды жұмыссыздар ретінде тіркеу"},
    "employment.active-measures-referral": {
        "ru": "Выдача направлений лицам на участие в активных мерах содействия занятости",
        "kk": "Жұмыспен қамтуға жәрдемдесудің белсенді шараларына қатысуға жолдама беру"},
    "employment.unemployed-certificate": {
        "ru": "Выдача справок безработным гражданам", "kk": "Жұмыссыз азаматтарға анықтама беру"},
}

FIELD_LABELS: dict[str, dict[str, str]] = {
    "applicantIin": {"ru": "ИИН", "kk": "ЖСН"},
    "applicantBin": {"ru": "БИН организации-заявителя", "kk": "Өтініш беруші ұйымның БСН"},
    "surname": {"ru": "Фамилия", "kk": "Тегі"},
    "name": {"ru": "Имя", "kk": "Аты"},
    "patronymic": {"ru": "Отчество (при наличии)", "kk": "Әкесінің аты (болған жағдайда)"},
    "phone": {"ru": "Мобильный телефон", "kk": "Ұялы телефон"},
    "email": {"ru": "Электронная почта", "kk": "Электрондық пошта"},
    "documents": {"ru": "Прилагаемые документы", "kk": "Қоса берілетін құжаттар"},
    "periodFrom": {"ru": "Период: с", "kk": "Кезең: бастап"},
    "periodTo": {"ru": "Период: по", "kk": "Кезең: дейін"},
    "presentedTo": {"ru": "Для предъявления по месту требования", "kk": "Талап етілетін жерге ұсыну үшін"},
    "referralKind": {"ru": "Вид активной меры содействия занятости",
                     "kk": "Жұмыспен қамтуға жәрдемдесу шарасының түрі"},
    "representativeIin": {"ru": "ИИН представителя", "kk": "Өкілдің ЖСН"},
    "powerOfAttorney": {"ru": "Доверенность", "kk": "Сенімхат"},
}

REFERRAL_KIND_LABELS: dict[str, dict[str, str]] = {
    "employment": {"ru": "направление для трудоустройства", "kk": "жұмысқа орналасуға жолдама"},
    "public-works": {"ru": "направление на общественные работы", "kk": "қоғамдық жұмыстарға жолдама"},
    "vocational-training": {"ru": "направление на профессиональную подготовку, переподготовку и повышение "
                                  "квалификации", "kk": "кәсіптік даярлауға, қайта даярлауға және біліктілікті "
                                                        "арттыруға жолдама"},
    "social-jobs": {"ru": "направление на социальные рабочие места", "kk": "әлеуметтік жұмыс орындарына жолдама"},
    "youth-practice": {"ru": "направление на молодежную практику", "kk": "жастар практикасына жолдама"},
    "career-guidance": {"ru": "бесплатные услуги по профессиональной ориентации",
                        "kk": "кәсіптік бағдар беру бойынша тегін қызметтер"},
}

# Standard № 279 п. 9 as public descriptions give it (an assumption: the seeds do not reproduce the Standard;
# docs/decisions.md), by service: what the citizen brings or attaches.
_IDENTITY = {"id": "identity-document", "ru": "документ, удостоверяющий личность (или его электронная копия)",
             "kk": "жеке басын куәландыратын құжат (немесе оның электрондық көшірмесі)", "required": True}
_WORK = {"id": "work-record", "ru": "трудовая книжка или иной документ, подтверждающий трудовую деятельность "
         "(при наличии)", "kk": "еңбек кітапшасы немесе еңбек қызметін растайтын өзге құжат (болған жағдайда)",
         "required": False}
_EDUCATION = {"id": "education", "ru": "документ об образовании, квалификации (при наличии)",
              "kk": "білімі, біліктілігі туралы құжат (болған жағдайда)", "required": False}
REQUIRED_DOCUMENTS: dict[str, list[dict[str, Any]]] = {
    "employment.job-seeker-registration": [_IDENTITY, _WORK, _EDUCATION],
    "employment.unemployed-registration": [_IDENTITY, _WORK, _EDUCATION],
    "employment.active-measures-referral": [_IDENTITY],
    "employment.unemployed-certificate": [_IDENTITY],
}


class _Form(BaseModel):
    """What every service's form has beyond the envelope fields of ``ApplicationForm``."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")


class JobSeekerForm(_Form):
    pass


class UnemployedRegistrationForm(_Form):
    pass


class ReferralForm(_Form):
    referral_kind: str = Field(alias="referralKind", description="one of the kinds the region's regulation offers")


class CertificateForm(_Form):
    period_from: dt.date = Field(alias="periodFrom", description="YYYY-MM-DD")
    period_to: dt.date = Field(alias="periodTo", description="YYYY-MM-DD, not before periodFrom")
    presented_to: str | None = Field(default=None, alias="presentedTo", max_length=200)

    @field_validator("period_to")
    @classmethod
    def _period(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        start = info.data.get("period_from")
        if start is not None and value < start:
            raise ValueError(f"the period ends before it starts ({start.isoformat()})")
        return value


SERVICE_FORMS: dict[str, type[_Form]] = {
    "employment.job-seeker-registration": JobSeekerForm,
    "employment.unemployed-registration": UnemployedRegistrationForm,
    "employment.active-measures-referral": ReferralForm,
    "employment.unemployed-certificate": CertificateForm,
}
assert set(SERVICE_FORMS) == set(EMPLOYMENT_SERVICES)


def kinds_of(regulation: Any) -> list[str] | None:
    """The referral kinds a regulation offers (its ``referralKinds``), or None when it names none."""
    kinds = getattr(regulation, "referral_kinds", None) if regulation is not None else None
    return list(kinds) if kinds else None


def form_schema(service_id: str, *, referral_kinds: list[str] | None = None) -> dict[str, Any]:
    """The form's JSON Schema: the common fields, then the service's own (required ones listed), with labels."""
    schema = ApplicationForm.model_json_schema(by_alias=True)
    own = SERVICE_FORMS[service_id].model_json_schema(by_alias=True)
    schema["properties"] |= own.get("properties", {})
    schema["required"] = sorted(set(schema.get("required", [])) | set(own.get("required", [])))
    schema["properties"]["serviceId"] = {"const": service_id, "title": "serviceId"}
    if service_id == "employment.active-measures-referral" and referral_kinds:
        schema["properties"]["referralKind"] = {"enum": referral_kinds, "title": "referralKind"}
    for field, labels in FIELD_LABELS.items():
        if field in schema["properties"]:
            schema["properties"][field] |= {"title": labels["ru"], "x-label-kk": labels["kk"]}
    schema["title"] = SERVICE_TITLES[service_id]["ru"]
    return schema


def form_errors(form: dict[str, Any], *, referral_kinds: list[str] | None = None) -> list[dict[str, str]]:
    """Every way ``form`` breaks its service's form, one entry per field (empty: it fits)."""
    errors: list[dict[str, str]] = []
    service_id = form.get("serviceId")
    for model in (ApplicationForm, SERVICE_FORMS.get(str(service_id))):
        if model is None:
            errors.append({"field": "serviceId", "problem": f"one of {', '.join(EMPLOYMENT_SERVICES)}"})
            continue
        try:
            model.model_validate(form)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"]) or "form"
                if model is not ApplicationForm and error["type"] == "extra_forbidden":
                    continue
                errors.append({"field": field, "problem": error["msg"]})
    kind = form.get("referralKind")
    if service_id == "employment.active-measures-referral" and referral_kinds and kind and kind not in referral_kinds:
        errors.append({"field": "referralKind", "problem": f"this region's regulation offers "
                                                           f"{', '.join(referral_kinds)}, not {kind}"})
    unique: dict[tuple[str, str], dict[str, str]] = {(e["field"], e["problem"]): e for e in errors}
    return list(unique.values())


def refuse_unfit(form: dict[str, Any], *, referral_kinds: list[str] | None = None) -> None:
    """``FORM_INVALID`` (422) naming every field error, or nothing."""
    errors = form_errors(form, referral_kinds=referral_kinds)
    if errors:
        raise MeshError("FORM_INVALID", "the form does not fit its service: " + "; ".join(
            f"{e['field']}: {e['problem']}" for e in errors), details={"errors": errors})


def document_problems(form: dict[str, Any], *, on: dt.date) -> list[str]:
    """The provider's document check (seed 000 condition 3 and process 6, seed 004 п. 11 condition 2 and process 5,
    seed 002's clerk refusing an incomplete set or expired documents): each required document of the Standard's
    п. 9 named on the form, and the identity document valid on ``on`` (the day of acceptance). Each problem is a
    refusal reason as the motivated refusal states it; none: the documents fit."""
    documents = [d for d in form.get("documents") or [] if isinstance(d, dict)]
    kinds = {d.get("kind", "other") for d in documents}
    problems: list[str] = []
    missing = [d["ru"] for d in REQUIRED_DOCUMENTS.get(str(form.get("serviceId")), [])
               if d["required"] and d["id"] not in kinds]
    if missing:
        problems.append("Не представлены документы, предусмотренные пунктом 9 Стандарта государственной услуги: "
                        + "; ".join(missing))
    identities = [d for d in documents if d.get("kind") == "identity-document" and d.get("validUntil")]
    valid = [d for d in identities if dt.date.fromisoformat(d["validUntil"]) >= on]
    if identities and not valid:  # one valid identity document is enough; else the latest expired is named
        latest = max(identities, key=lambda d: d["validUntil"])
        problems.append(f"Срок действия документа, удостоверяющего личность"
                        f"{' № ' + latest['number'] if latest.get('number') else ''}, истёк {latest['validUntil']}")
    return problems
