"""Each route's OpenAPI lists the error answers it can give: `{code, message, details}` (ErrorOut) under each status,
the codes in the description and in `x-error-codes`, each under its own status from the catalogue; what every route
can give anyway (422 REQUEST_INVALID, the JSON body's limits, the admin token's and a login's refusals) is there
too. That each error answer the fuzz provokes is listed is checked in test_api_fuzz.py.

Before: the only documented error was FastAPI's 422 (a shape the mesh never answers), so a generated client parsed
`401 PASSWORD_WRONG` to None."""

from __future__ import annotations

import httpx
import pytest

from shared.error_catalogue import CATALOGUE
from shared.web.openapi_errors import CODES_KEY, ERROR_SCHEMA, ErrorOut, declared_codes
from tests.support.inprocess import SERVICES, InProcessMesh

METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    return [(path, method, operation) for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS]


@pytest.mark.parametrize("service", SERVICES)
def test_every_error_response_is_an_error_out_listing_its_codes_under_their_status(inproc: InProcessMesh,
                                                                                  service: str):
    document = inproc.app(service).openapi()
    assert "ErrorOut" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"], "FastAPI's 422 is not what we answer"
    wrong = []
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            if (path, status) == ("/ready", "503"):  # the readiness answer (what is down), not a refusal
                continue
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == ERROR_SCHEMA, (method, path, status)
                wrong += [(method, path, status, code) for code in response[CODES_KEY]
                          if CATALOGUE[code].status != int(status) or f"`{code}`" not in response["description"]]
    assert wrong == []


def _model_body(operation: dict) -> bool:
    """A JSON body FastAPI validates (a model), not one the route reads itself (``openapi_extra``)."""
    return list(operation.get("requestBody", {}).get("content", {})) == ["application/json"]


@pytest.mark.parametrize("service", SERVICES)
def test_what_every_route_can_give_is_listed(inproc: InProcessMesh, service: str):
    document = inproc.app(service).openapi()
    for path, method, operation in _operations(document):
        codes = declared_codes(operation)
        if operation.get("parameters") or _model_body(operation):
            assert "REQUEST_INVALID" in codes.get(422, []), (method, path)
        if _model_body(operation):
            assert "REQUEST_TOO_LARGE" in codes.get(413, []), (method, path)
        if path.startswith("/admin/"):
            assert "ADMIN_TOKEN_MISSING" in codes.get(401, []), (method, path)
            assert "ADMIN_TOKEN_INVALID" in codes.get(403, []), (method, path)


async def test_a_login_refused_answers_what_its_openapi_lists(inproc: InProcessMesh):
    person = await inproc.person(district="almaty")
    await inproc.citizen_session(person)  # registered, with a password
    document = inproc.app("portal").openapi()
    login = declared_codes(document["paths"]["/auth/login"]["post"])
    assert {"PASSWORD_WRONG", "PASSWORD_NOT_SET"} <= set(login[401])
    assert login[423] == ["ACCOUNT_LOCKED"]
    assert set(declared_codes(document["paths"]["/citizens/{iin}/account"]["get"])[401]) == {
        "SESSION_MISSING", "SESSION_INVALID", "SESSION_EXPIRED"}
    async with inproc.client("portal") as portal:  # with the admin token: told precisely
        precise = await portal.post("/auth/login", json={"iin": person.iin, "password": "not-the-password-1A!"})
        portal.headers.pop("Authorization")
        wrong = await portal.post("/auth/login", json={"iin": person.iin, "password": "not-the-password-1A!"})
        anonymous = await portal.get(f"/citizens/{person.iin}/account")
    assert (precise.status_code, precise.json()["code"]) == (401, "PASSWORD_NOT_SET"), "it registered with EDS"
    assert (wrong.status_code, wrong.json()["code"]) == (401, "PASSWORD_WRONG")
    ErrorOut.model_validate(wrong.json())  # the body is the schema the OpenAPI names
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "SESSION_MISSING")


def test_the_routes_declare_their_own_codes(inproc: InProcessMesh):
    """Beyond what every route gives: most routes list the codes their own rules answer (``error_responses``)."""
    common = {"REQUEST_INVALID", "REQUEST_TOO_LARGE", "JSON_TOO_DEEP", "JSON_STRING_INVALID", "JSON_TOO_MANY_ELEMENTS",
              "ADMIN_TOKEN_MISSING", "ADMIN_TOKEN_INVALID", "SESSION_MISSING", "SESSION_INVALID", "SESSION_EXPIRED"}
    specific = total = 0
    for service in SERVICES:
        for _path, _method, operation in _operations(inproc.app(service).openapi()):
            total += 1
            specific += bool({c for codes in declared_codes(operation).values() for c in codes} - common)
    assert total > 120
    assert specific > 100, (specific, total)


def test_error_out_is_what_an_error_answer_is():
    answer = httpx.Response(401, json={"code": "PASSWORD_WRONG", "message": "wrong", "details": {"attemptsLeft": 2}})
    assert ErrorOut.model_validate(answer.json()).details == {"attemptsLeft": 2}
