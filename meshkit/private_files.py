"""Files only their owner may read: the admin token, key passphrases, private keys, demo passwords."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, content: str | bytes) -> None:
    """Write ``path`` readable by its owner only — never, even for an instant, by others: created 0600 under
    another name, then renamed over the old one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(content.encode() if isinstance(content, str) else content)
    os.chmod(temporary, 0o600)  # whatever the umask
    os.replace(temporary, path)
