"""A failed call to a registry through the gateway, as a service reports it to its caller: naming the hop that
failed (broker, gateway, НУЦ, the registry itself), not blaming the registry for all."""

from __future__ import annotations

from shared.errors import MeshError

# Which hop failed on the way to ГБД ФЛ, as a code a client can act on and a sentence that names it.
_HOPS = {
    "broker": ("BROKER_UNAVAILABLE", "the message broker (RabbitMQ) is unreachable"),
    "gateway": ("GATEWAY_UNAVAILABLE", "the gateway (ШЭП) is not answering"),
    "nuc": ("NUC_UNAVAILABLE", "НУЦ cannot tell whether a certificate is revoked (OCSP unreachable)"),
}


def unavailable(exc: MeshError) -> MeshError:
    """A failed ГБД ФЛ call: 503 with the code of the hop that failed and what the caller can do (try again)."""
    hop = str(exc.details.get("failedAt") or "gbdfl")
    code, what = _HOPS.get(hop, ("REGISTRY_UNAVAILABLE", "ГБД ФЛ did not answer"))
    return MeshError(code, f"{what}; the registry could not be asked ({exc.code}: {exc.message})", status=503,
                     details={"failedAt": hop, "cause": exc.code})
