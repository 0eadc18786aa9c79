"""What the tester's journal costs where it runs: in a request, and behind the ring.

One process's journal (shared/mesh/journal.py) on an application-sized payload (about 2 KB of JSON, an IIN, a
correlation id), as a service records it at its HTTP edge:

* recording: microseconds an entry costs the request, with the ring only and with the database behind it (the
  entry is appended to the writer's list, not written), and their ratio;
* writing: entries a second the background writer puts in the SQLite file (batches of 1000, one transaction each);
* reading past the ring: a query by correlation id (an indexed column) and one by a payload field (no column: every
  stored entry of the service is read and checked), over a full database of MESH_JOURNAL_ROWS entries.

Writes var/bench/journal.json. Usage: python -m bench.journal [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import time
import uuid

from bench.figures import OUT, write_figures
from shared.mesh.journal import Journal, Query
from shared.mesh.journal_store import DEFAULT_ROWS, JournalStore

RECORDS = 20_000
ROUNDS = 5


def _payload(n: int) -> dict:
    return {"correlationId": str(uuid.UUID(int=n)), "iin": f"{850701300000 + n % 1000:012d}",
            "request": {"serviceId": "employment.job-seeker-registration", "district": "almaty",
                        "answers": [{"question": f"q{k}", "answer": "да" * 20} for k in range(24)]},
            "response": {"status": "SENT", "applicationNumber": f"ALM-2026-{n:06d}"}}


def _record_us(journal: Journal, payloads: list[dict]) -> float:
    started = time.perf_counter()
    for payload in payloads:
        journal.record("http", payload=payload, outcome="ok", route="/applications", method="POST", status=200)
    return (time.perf_counter() - started) / len(payloads) * 1e6


async def _measure(rows: int) -> dict:
    work = OUT / "work-journal"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    payloads = [_payload(n) for n in range(RECORDS)]
    ring_only, with_store, write_rates = [], [], []
    for round_ in range(ROUNDS):  # alternating, so both see the machine's momentary load alike
        ring_only.append(_record_us(Journal(service="portal"), payloads))
        store = JournalStore(url=f"sqlite:///{work}/round{round_}.journal.db", service="portal", rows=rows)
        journal = Journal(service="portal", store=store, flush_s=3600)  # written below, not by the writer
        await journal.open()
        with_store.append(_record_us(journal, payloads))
        started = time.perf_counter()
        await journal.flush()
        write_rates.append(RECORDS / (time.perf_counter() - started))
        await journal.close()

    store = JournalStore(url=f"sqlite:///{work}/full.journal.db", service="portal", rows=rows)
    full = Journal(service="portal", store=store, flush_s=3600)
    await full.open()
    for start in range(0, rows, RECORDS):
        for n in range(start, min(start + RECORDS, rows)):
            full.record("http", payload=_payload(n), outcome="ok", route="/applications", method="POST", status=200)
        await full.flush()
    wanted = str(uuid.UUID(int=rows // 3))  # long past the ring
    started = time.perf_counter()
    by_id = await full.find(Query({"correlationId": wanted}))
    by_id_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    by_payload = await full.find(Query({"payload.response.applicationNumber": f"ALM-2026-{rows // 3:06d}"}))
    by_payload_ms = (time.perf_counter() - started) * 1000
    await full.close()
    assert len(by_id) == len(by_payload) == 1
    shutil.rmtree(work, ignore_errors=True)
    ring_us, store_us = statistics.median(ring_only), statistics.median(with_store)
    return {
        "record_ring_only_us": round(ring_us, 1), "record_with_database_us": round(store_us, 1),
        "record_ratio_database_to_ring": round(store_us / ring_us, 3),
        "database_writes_entries_per_s": round(statistics.median(write_rates)),
        "stored_entries": rows,
        "find_by_correlation_id_past_the_ring_ms": round(by_id_ms, 1),
        "find_by_payload_field_past_the_ring_ms": round(by_payload_ms, 1),
        "payload_json_bytes": len(str(payloads[0]).encode()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="entries in the full database")
    args = parser.parse_args()
    write_figures("journal", asyncio.run(_measure(args.rows)))


if __name__ == "__main__":
    main()
