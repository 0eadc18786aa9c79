"""A checkout as a user has it after `make run` — ``.venv`` and ``var/mesh.json`` (and ``var/logs``, if asked) in a
directory of its own — where the pages' commands run as written: the e2e tests of README.md and docs/ share it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.docs_pages import REPO_ROOT
from tests.support.mesh import MeshHandle


@dataclass(frozen=True)
class Checkout:
    directory: Path

    @classmethod
    def of(cls, directory: Path, mesh: MeshHandle, *, logs: bool = False) -> Checkout:
        (directory / ".venv").symlink_to(REPO_ROOT / ".venv" if (REPO_ROOT / ".venv").exists() else Path(sys.prefix))
        mesh.write_mesh_file(directory / "var" / "mesh.json")
        if logs:
            (directory / "var" / "logs").symlink_to(mesh.config.var_dir / "logs")
        return cls(directory)

    @property
    def env(self) -> dict[str, str]:
        return os.environ | {"MESH_FILE": str(self.directory / "var" / "mesh.json"), "PYTHONPATH": str(REPO_ROOT)}

    def ran(self, *command: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        """``command`` run here, whatever it answers."""
        return subprocess.run(command, cwd=self.directory, env=self.env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)

    def run(self, *command: str, timeout_s: float = 300) -> str:
        """``command`` run here, which must succeed: its standard output."""
        ran = self.ran(*command, timeout_s=timeout_s)
        assert ran.returncode == 0, (command, ran.stdout[-2000:], ran.stderr[-3000:])
        return ran.stdout

    def bash(self, script: str, *, timeout_s: float = 300) -> str:
        return self.run("bash", "-euo", "pipefail", "-c", script, timeout_s=timeout_s)
