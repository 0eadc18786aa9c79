"""The districts this workstation serves, each its own mesh member ``mio.<district>``, and the simulated staff's
wake-up call: whatever a use case commits that may fall due (a new application, a finished step) wakes the runner."""

from __future__ import annotations

import asyncio

from shared.errors import MeshError
from shared.mesh.member import MemberRuntime
from shared.pki.cert_check import CertificateVerifier


class Districts:
    def __init__(self, runtimes: dict[str, MemberRuntime]) -> None:
        self._runtimes = runtimes  # the node's own map: members attached at start-up are seen here
        self.changed = asyncio.Event()  # the auto runner waits on it: something may have fallen due

    def names(self) -> list[str]:
        return [member.split(".", 1)[1] for member in self._runtimes]

    def runtime(self, district: str) -> MemberRuntime:
        runtime = self._runtimes.get(f"mio.{district}")
        if runtime is None:
            raise MeshError("DISTRICT_UNKNOWN", f"this ИС МИО serves no district {district!r}; it serves "
                            f"{', '.join(sorted(self.names()))}")
        return runtime

    def verifier(self, district: str) -> CertificateVerifier:
        return self.runtime(district).verifier_or_fail()

    def wake_runner(self) -> None:
        self.changed.set()

    def after_commit(self, district: str) -> None:
        """What a committed change sets going: the district's outbox relay, and the simulated staff."""
        self.runtime(district).relay.kick()
        self.wake_runner()
