"""Python clients generated from the services' /openapi.json by openapi-python-client, as a new API user makes them.

The generator runs in a venv of its own, tools/openapi-client/.venv (git-ignored), installed from the pinned
tools/openapi-client/requirements.txt when that file changes: openapi-python-client 0.29.1 wants typer<0.28 and the
project pins typer==0.29.2, so pip cannot put it in the dev extras. The clients it writes need only httpx and attrs
(both in the project's venv); they are generated into a temporary directory, never into the repository.

An operation is found by what the spec says it is — ``client.op("POST /auth/login")`` — not by the module name the
generator derives from its operationId and tag, so the tests survive routes being renamed or regrouped."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import httpx

from meshkit.mesh_runner import REPO_ROOT

TOOLING = REPO_ROOT / "tools" / "openapi-client"
REQUIREMENTS = TOOLING / "requirements.txt"
CONFIG = TOOLING / "config.yaml"  # binary media types read as bytes (docs/clients.md)
VENV = TOOLING / ".venv"
STAMP = VENV / ".egov-mesh-requirements-sha256"  # the requirements the venv was installed from
GENERATOR_VERSION = "0.29.1"
_OPERATION = re.compile(r'"method": "(\w+)",\s*"url": "([^"]+)"')
_WARNING = re.compile(r"^WARNING parsing (\w+ \S+) within")
_PARAMETER = re.compile(r"\{[^}]*\}")  # the generator renames some ({bin} → {bin_}): matched by place, not name


def generator() -> Path:
    """The venv's python, with openapi-python-client installed (once per change of the requirements)."""
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    python = VENV / "bin" / "python"
    if not (python.exists() and STAMP.exists() and STAMP.read_text() == wanted):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, capture_output=True)
        installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                    "-r", str(REQUIREMENTS)], capture_output=True, text=True, timeout=900, check=False)
        assert installed.returncode == 0, installed.stderr[-4000:]
        STAMP.write_text(wanted)
    return python


@dataclass
class Operation:
    """One generated operation module: ``sync`` / ``sync_detailed``, and the class of its JSON body (``Body``)."""

    module: ModuleType

    def sync(self, **kwargs: Any) -> Any:
        return self.module.sync(**kwargs)

    def sync_detailed(self, **kwargs: Any) -> Any:
        return self.module.sync_detailed(**kwargs)

    @property
    def bodies(self) -> list[Any]:
        """The model classes the body may be, the JSON one first (as the generator orders them)."""
        annotation = inspect.signature(self.module.sync_detailed).parameters["body"].annotation
        return [t for t in get_args(annotation) or (annotation,) if hasattr(t, "from_dict")]

    @property
    def Body(self) -> Any:  # noqa: N802 — it is a class
        return self.bodies[0]


@dataclass
class GeneratedClient:
    """One service's generated package, imported; what the generator said while writing it."""

    service: str
    package: ModuleType
    base_url: str
    spec: dict[str, Any]
    version: str  # what `openapi-python-client --version` says
    output: str
    seconds: float
    files: list[Path]
    operations: dict[str, str] = field(default_factory=dict)  # "POST /auth/login" → module name

    @property
    def warnings(self) -> set[str]:
        """The operations the generator warned about ("GET /visits/{visit_id}/document.pdf")."""
        return {m.group(1) for line in self.output.splitlines() if (m := _WARNING.match(line))}

    def op(self, what: str) -> Operation:
        return Operation(importlib.import_module(self.operations[what]))

    @property
    def models(self) -> ModuleType:
        return importlib.import_module(f"{self.package.__name__}.models")

    def anonymous(self, **kwargs: Any) -> Any:
        return self.package.Client(base_url=self.base_url, timeout=httpx.Timeout(30), **kwargs)

    def bearer(self, token: str, **kwargs: Any) -> Any:
        return self.package.AuthenticatedClient(base_url=self.base_url, token=token, timeout=httpx.Timeout(30),
                                                **kwargs)


def _generate(python: Path, spec: Path) -> tuple[str, float]:
    """``openapi-python-client generate --path`` in the spec's directory, as a user runs it (its post-hooks, ruff,
    from the tool's venv): the package is named after the spec's title."""
    started = time.monotonic()
    env = os.environ | {"PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [str(python), "-m", "openapi_python_client", "generate", "--path", spec.name, "--meta", "none",
               "--config", str(CONFIG)]
    done = subprocess.run(command, cwd=spec.parent, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr, time.monotonic() - started


def generate_clients(urls: dict[str, str], workdir: Path) -> dict[str, GeneratedClient]:
    """Fetch each service's /openapi.json, generate its client in a directory of its own under ``workdir`` (all at
    once), and import it."""
    python = generator()
    version = subprocess.run([str(python), "-m", "openapi_python_client", "--version"], capture_output=True,
                             text=True, check=True).stdout.strip()
    specs = {}
    for service, url in urls.items():
        (workdir / service).mkdir(parents=True)
        spec = workdir / service / "openapi.json"
        spec.write_bytes(httpx.get(f"{url}/openapi.json", timeout=30).raise_for_status().content)
        specs[service] = spec
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        results = dict(zip(specs, pool.map(lambda s: _generate(python, s), specs.values()), strict=True))
    clients = {}
    for service, (output, seconds) in results.items():
        [package_dir] = [p for p in specs[service].parent.iterdir() if p.is_dir()]
        sys.path.insert(0, str(package_dir.parent))
        files = sorted(p.relative_to(package_dir) for p in package_dir.rglob("*.py"))
        spec = json.loads(specs[service].read_bytes())
        paths = {_PARAMETER.sub("{}", path): path for path in spec["paths"]}
        operations = {}
        for path in package_dir.glob("api/*/*.py"):
            if found := _OPERATION.search(path.read_text()):
                module = ".".join((package_dir.name, *path.relative_to(package_dir).with_suffix("").parts))
                url = paths.get(_PARAMETER.sub("{}", found.group(2)), found.group(2))
                operations[f"{found.group(1).upper()} {url}"] = module
        clients[service] = GeneratedClient(service=service, package=importlib.import_module(package_dir.name),
                                           base_url=urls[service], spec=spec,
                                           version=version, output=output, seconds=seconds, files=files,
                                           operations=operations)
    return clients
