"""structlog JSON logs: one JSON object per line, from our code and from the libraries underneath (uvicorn,
aio-pika) alike.

Every line carries ``service``, ``timestamp`` (wall time, UTC) and ``meshTime`` (the mesh clock, when the
service has one); every line about a message or a case carries ``correlationId`` — and ``messageId``,
``serviceId``, ``applicationNumber`` where known — bound by ``message_context`` for the whole block that
handles it. Keys are camelCase, one spelling everywhere (``message_id=`` given to a logger is written
``messageId``), so a case can be followed across the six log files with one grep. Event names are snake_case
facts (``message_routed``). Personal data and signatures never go into a log line: ``redact`` drops the keys
that could carry them, whoever passes them.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any, Protocol

import orjson
import structlog

# Keys whose values could carry personal data, secrets or signatures.
_SENSITIVE = frozenset({
    "iin", "bin", "password", "token", "signature", "data", "body", "pkcs12", "private_key", "name",
    "surname", "patronymic", "phone", "address", "admin_token", "csr", "privateKey", "adminToken",
})
# Kept as spelled: structlog's own keys. ``exc_info`` renamed would leave format_exc_info nothing to format, and a
# fault's traceback would be lost (a log line said only ``"excInfo": true``).
_KEEP = frozenset({"event", "level", "timestamp", "service", "exception", "logger", "exc_info", "stack_info"})


class _Clock(Protocol):
    def now(self) -> Any: ...


_clock: _Clock | None = None


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key.lower() in _SENSITIVE or key in _SENSITIVE:
            event[key] = "[redacted]"
    return event


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_keys(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """One spelling for every key: ``message_id`` → ``messageId`` (``number`` is the application's number).
    Keys starting with ``_`` are structlog's own bookkeeping (``_record``) and keep their names."""
    for key in [k for k in event if k not in _KEEP and not k.startswith("_") and ("_" in k or k == "number")]:
        value = event.pop(key)
        event["applicationNumber" if key == "number" else camel(key)] = value
    return event


def mesh_time(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if _clock is not None:
        event.setdefault("meshTime", _clock.now().isoformat())
    return event


def _dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default or str).decode()


def _processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mesh_time,
        camel_keys,
        redact,
        structlog.processors.format_exc_info,
    ]


def configure_logging(*, service: str, level: str = "INFO", clock: _Clock | None = None) -> None:
    """JSON lines on stdout for this process, its libraries' loggers included (uvicorn's own configuration,
    made before the app is created, is replaced here)."""
    global _clock  # one clock per process: the service's mesh clock
    if clock is not None:
        _clock = clock
    numeric = getattr(logging, level.upper(), logging.INFO)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *_processors()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer(serializer=_dumps)]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        library = logging.getLogger(name)
        library.handlers[:] = []
        library.propagate = True
    for noisy in ("aiormq", "aio_pika", "httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*_processors(), structlog.processors.JSONRenderer(serializer=_dumps)],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


@contextlib.contextmanager
def message_context(*, correlation_id: str | None = None, message_id: str | None = None,
                    service_id: str | None = None, application_number: str | None = None) -> Iterator[None]:
    """Bind the case's and the message's ids to every log line emitted inside the block."""
    bound = {"correlationId": correlation_id, "messageId": message_id, "serviceId": service_id,
             "applicationNumber": application_number}
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in bound.items() if v is not None}):
        yield
