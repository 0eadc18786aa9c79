"""A private PostgreSQL server on a free loopback port, for the tests that run the mesh on PostgreSQL.

As root it runs as the ``postgres`` system user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from meshkit.ports import free_port, wait_for_port


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    assert found, "PostgreSQL is required (make test installs Debian's postgresql package)"
    return Path(found[-1]).parent


def _as_owner(command: list[str], *, owner: str | None) -> list[str]:
    if owner is None:
        return command
    runuser = shutil.which("runuser")
    assert runuser, "runuser is needed to start PostgreSQL as the postgres user"
    return [runuser, "-u", owner, "--", *command]


@dataclass
class PostgresServer:
    root: Path
    port: int
    owner: str | None
    process: subprocess.Popen[bytes]

    def url(self, database: str) -> str:
        return f"postgresql://mesh@127.0.0.1:{self.port}/{database}"

    def create_databases(self, names: list[str]) -> None:
        psql = _bin_dir() / "psql"
        for name in names:
            subprocess.run(_as_owner([str(psql), "-h", "127.0.0.1", "-p", str(self.port), "-U", "mesh", "-d",
                                      "postgres", "-c", f'CREATE DATABASE "{name}"'], owner=self.owner),
                           check=True, capture_output=True)

    @classmethod
    def start(cls) -> PostgresServer:
        owner = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="mesh-pg-"))
        if owner is not None:
            entry = pwd.getpwnam(owner)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        data = root / "data"
        bindir = _bin_dir()
        subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", "mesh", "--auth=trust",
                                  "-E", "UTF8", "--no-sync"], owner=owner), check=True, capture_output=True)
        port = free_port()
        log = (root / "server.log").open("ab") if owner is None else subprocess.DEVNULL
        command = [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
                   "-c", f"unix_socket_directories={root}", "-c", "fsync=off"]
        process = subprocess.Popen(_as_owner(command, owner=owner),
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_for_port(port, timeout_s=30):
            process.kill()
            raise RuntimeError("PostgreSQL did not start")
        return cls(root=root, port=port, owner=owner, process=process)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # «fast» shutdown: SIGTERM («smart») waits out every client
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)
