"""ГБД ФЛ asked through the gateway, and a failed call reported to the caller naming the hop that failed (broker,
gateway, НУЦ, the registry itself), not blaming the registry for all."""

from __future__ import annotations

from typing import Any

from shared.errors import MeshError
from shared.mesh.contracts import PersonData

PERSON_BY_IIN = "gbdfl.person-by-iin"

# Which hop failed on the way to ГБД ФЛ, as a code a client can act on and a sentence that names it; any other hop
# (ГБД ФЛ itself, or a provider's refusal) is the registry's.
_HOP_CODES = {
    "broker": ("BROKER_UNAVAILABLE", "the message broker (RabbitMQ) is unreachable"),
    "gateway": ("GATEWAY_UNAVAILABLE", "the gateway (ШЭП) is not answering"),
    "nuc": ("NUC_UNAVAILABLE", "НУЦ cannot tell whether a certificate is revoked (OCSP unreachable)"),
    "gbdfl": ("REGISTRY_UNAVAILABLE", "ГБД ФЛ did not answer"),
}


def unavailable(exc: MeshError) -> MeshError:
    """A failed ГБД ФЛ call: 503 with the code of the hop that failed and what the caller can do (try again)."""
    hop = str(exc.details.get("failedAt") or "gbdfl")
    code, what = _HOP_CODES.get(hop, _HOP_CODES["gbdfl"])
    return MeshError(code, f"{what}; the registry could not be asked ({exc.code}: {exc.message})",
                     details={"failedAt": hop, "cause": exc.code})


async def person_by_iin(runtime: Any, iin: str, *, timeout_s: float | None = None,
                        correlation_id: str | None = None) -> PersonData | None:
    """The person ГБД ФЛ holds for ``iin`` (None: «нет данных»), through ``runtime``'s member; a failed call is
    ``unavailable``'s 503 naming the hop."""
    try:
        answer = await runtime.request(service_id=PERSON_BY_IIN, data={"iin": iin}, timeout_s=timeout_s,
                                       correlation_id=correlation_id)
    except MeshError as exc:
        raise unavailable(exc) from None
    data = answer.envelope.data
    return PersonData.model_validate(data["person"]) if data.get("found") else None
