"""What a failure means, decided in one place for every worker that takes messages: a member's work queue
(``shared.mesh.consumer``), the gateway's ingress, and the outbox relay.

A failure is one of three kinds:

* **permanent** — this message can never be processed as sent (unparsable, bad signature, unknown sender, a
  refusal the handler raised): it goes to the dead-letter queue at once, with its code and reason;
* **outage** — something the work depends on is down (the broker, the database, НУЦ's OCSP responder, a
  provider that did not answer): the message is retried with back-off and *not* counted against it, until
  the outage has lasted longer than ``RetryPolicy.outage_window_s``;
* **fault** — anything else (a conflict with a concurrent writer, a bug): retried a few times
  (``RetryPolicy.fault_attempts``), then dead-lettered as ``RETRIES_EXHAUSTED`` with the last error.

A *duplicate* is not a failure and is not decided here: only the inbox's claim on the message id says a
message was already applied (``shared.mesh.inbox.claim``). In particular an ``IntegrityError`` from a handler is a
fault (another writer got somewhere first; a retry re-reads), never "already processed".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

import httpx
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared.errors import MeshError
from shared.mesh.bus import BusError
from shared.mesh.topology import H_ATTEMPT, H_FAULTS, H_FIRST_FAILED, RETRY_TIERS_S


class PermanentFailure(MeshError):
    """This message can never be processed as sent; retrying would not help."""


class OutageFailure(MeshError):
    """Something this message needs is down for now (НУЦ, a provider, start-up not finished): retry later. Its code
    is one of a dependency's (catalogued 503)."""


class FailureKind(StrEnum):
    PERMANENT = "permanent"
    OUTAGE = "outage"
    FAULT = "fault"


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    code: str
    reason: str


RETRIES_EXHAUSTED_CODE = "RETRIES_EXHAUSTED"  # a fault that failed every retry: its own code is in the reason

# PostgreSQL SQLSTATEs of a transaction that lost a race and may simply be run again.
_PG_RETRY_STATES = frozenset({"40001", "40P01", "55P03"})  # serialization failure, deadlock, lock not available


def _sqlstate(exc: DBAPIError) -> str | None:
    original = getattr(exc, "orig", None)
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


def classify(exc: BaseException) -> Failure:
    """The kind of a failure, with a code that says whose fault it is and a reason a person can act on."""
    text = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, PermanentFailure):
        return Failure(FailureKind.PERMANENT, exc.code, exc.message)
    if isinstance(exc, OutageFailure):
        return Failure(FailureKind.OUTAGE, exc.code, exc.message)
    if isinstance(exc, MeshError):
        if exc.status >= 500:  # the mesh said "not now": a provider, НУЦ or start-up
            return Failure(FailureKind.OUTAGE, exc.code, exc.message)
        return Failure(FailureKind.PERMANENT, exc.code, exc.message)
    if isinstance(exc, BusError):
        return Failure(FailureKind.OUTAGE, "Server.BrokerUnavailable", text)
    if isinstance(exc, IntegrityError):
        return Failure(FailureKind.FAULT, "Server.WriteConflict", text)
    if isinstance(exc, PoolTimeout):  # every connection of the pool in use: the database is overloaded
        return Failure(FailureKind.OUTAGE, "Server.DatabaseUnavailable", text)
    if isinstance(exc, DBAPIError):
        if _sqlstate(exc) in _PG_RETRY_STATES:
            return Failure(FailureKind.FAULT, "Server.WriteConflict", text)
        if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
            return Failure(FailureKind.OUTAGE, "Server.DatabaseUnavailable", text)
        return Failure(FailureKind.FAULT, "Server.DatabaseError", text)
    if isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError | OSError):
        return Failure(FailureKind.OUTAGE, "Server.DependencyUnavailable", text)
    return Failure(FailureKind.FAULT, "Server.ProcessingFailed", text)


@dataclass(frozen=True)
class Attempts:
    """How a message has fared so far, carried in its headers across retries."""

    attempt: int  # attempts made, this one included (chooses the back-off tier)
    first_failed_ms: int
    faults: int = 0  # of those, failures of the *fault* kind: an outage does not use up a message's budget

    @classmethod
    def after_failure(cls, headers: dict, *, failure: Failure | None = None, now_ms: int | None = None) -> Attempts:
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        fault = failure is not None and failure.kind is FailureKind.FAULT
        return cls(attempt=int(headers.get(H_ATTEMPT, 0)) + 1, first_failed_ms=int(headers.get(H_FIRST_FAILED, now)),
                   faults=int(headers.get(H_FAULTS, 0)) + (1 if fault else 0))

    def headers(self) -> dict[str, int]:
        return {H_ATTEMPT: self.attempt, H_FIRST_FAILED: self.first_failed_ms, H_FAULTS: self.faults}


@dataclass(frozen=True)
class RetryPolicy:
    outage_window_s: float = 900.0
    fault_attempts: int = 4
    tiers: tuple[int, ...] = RETRY_TIERS_S

    def delay(self, failure: Failure, attempts: Attempts, *, now_ms: int | None = None,
              deadline_s: float | None = None) -> int | None:
        """Seconds to wait before the next attempt (one of the retry tiers), or None: give up now.

        ``deadline_s``: a synchronous request's deadline (Unix seconds); no retry would reach its caller after it.
        """
        if failure.kind is FailureKind.PERMANENT:
            return None
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        if failure.kind is FailureKind.FAULT and attempts.faults >= self.fault_attempts:
            return None
        if failure.kind is FailureKind.OUTAGE and now - attempts.first_failed_ms >= self.outage_window_s * 1000:
            return None
        tier = self.tiers[min(attempts.attempt - 1, len(self.tiers) - 1)]
        if deadline_s is not None and now / 1000 + tier >= deadline_s:
            return None
        return tier

    def gave_up(self, failure: Failure, attempts: Attempts) -> tuple[str, str]:
        """The dead letter's code and reason when retrying ends."""
        if failure.kind is FailureKind.PERMANENT:
            return failure.code, failure.reason
        if failure.kind is FailureKind.OUTAGE:
            waited = (time.time() * 1000 - attempts.first_failed_ms) / 1000
            return failure.code, f"{failure.reason} (still failing after {waited:.0f} s, {attempts.attempt} attempts)"
        return RETRIES_EXHAUSTED_CODE, f"{failure.code}: {failure.reason} (after {attempts.faults} attempts)"
