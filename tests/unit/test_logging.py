"""Logs a tester can follow: one JSON object per line from every logger, one spelling of the ids, mesh time
beside wall time, nothing personal."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from shared.logging import configure_logging, get_logger, message_context


class _FixedClock:
    def now(self) -> dt.datetime:
        return dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _lines(captured: str) -> list[dict]:
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def test_library_and_own_lines_are_json_with_one_spelling_and_mesh_time(capsys: pytest.CaptureFixture[str]):
    configure_logging(service="unit", clock=_FixedClock())
    with message_context(correlation_id="case-1", message_id="m-1", application_number=None):
        get_logger("ours").info("message_routed", service_id="svc.one", number="ZHZ-2031-000001", iin="850701300007")
        logging.getLogger("aio_pika.robust_connection").warning("Connection attempt to %s failed", "amqp://x")
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    ours, library, server = _lines(capsys.readouterr().out)

    assert (ours["event"], ours["correlationId"], ours["messageId"], ours["serviceId"], ours["applicationNumber"]) \
        == ("message_routed", "case-1", "m-1", "svc.one", "ZHZ-2031-000001")
    assert "applicationNumber" not in library, "ids not known are not invented"
    assert ours["iin"] == "[redacted]"
    for line in (ours, library, server):
        assert (line["service"], line["meshTime"]) == ("unit", "2031-01-02T03:04:05+00:00")
        assert line["timestamp"].endswith("Z")
        assert not any(key.startswith("_") or "_" in key for key in line if key not in ("event",)), line
    assert library["correlationId"] == "case-1", "a library line inside a message's block carries its ids too"
    assert library["event"] == "Connection attempt to amqp://x failed"
    assert (server["event"], server["logger"]) == ("Started server process [42]", "uvicorn.error")


def test_a_fault_logged_with_exc_info_carries_its_traceback(capsys: pytest.CaptureFixture[str]):
    """A consumer's fault is logged with ``exc_info=True``: the line says where it failed, not just that it did."""
    configure_logging(service="unit", clock=_FixedClock())
    try:
        {}["bin"]
    except KeyError:
        get_logger("ours").warning("message_processing_failed", reason="KeyError: 'bin'", exc_info=True)
    (line,) = _lines(capsys.readouterr().out)

    assert "excInfo" not in line
    assert "exc_info" not in line
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert "test_a_fault_logged_with_exc_info_carries_its_traceback" in line["exception"]
    assert line["exception"].rstrip().endswith("KeyError: 'bin'")
