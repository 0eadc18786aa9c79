"""structlog JSON logs: one line per event, ``service`` bound always, ``correlationId``/``messageId`` when known.

Event names are snake_case facts (``message_routed``). Personal data and signatures never go into a log line:
``redact`` drops the keys that could carry them, whoever passes them.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson
import structlog

# Keys whose values could carry personal data, secrets or signatures.
_SENSITIVE = frozenset({
    "iin", "bin", "password", "token", "signature", "data", "body", "pkcs12", "private_key", "name",
    "surname", "patronymic", "phone", "address", "admin_token", "csr",
})


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key.lower() in _SENSITIVE:
            event[key] = "[redacted]"
    return event


def _dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


def configure_logging(*, service: str, level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=getattr(logging, level.upper(), logging.INFO))
    for noisy in ("aiormq", "aio_pika", "httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


@contextlib.contextmanager
def message_context(*, correlation_id: str | None, message_id: str | None) -> Iterator[None]:
    """Bind the case and message ids to every log line emitted inside the block."""
    with structlog.contextvars.bound_contextvars(correlationId=correlation_id, messageId=message_id):
        yield
