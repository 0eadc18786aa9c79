"""How long `make run` takes to be ready: from an empty var/ (cold: a new broker, CA, seeded people, staff and
operators) and again on the var/ it left (warm: a restart). The launcher runs as `make run` runs it
(``python -m meshkit.launcher``), on ports of its own and a var/ of its own; it is ready when var/mesh.json
describes its mesh with the demo staff — the moment it prints the table of URLs — and is then stopped with Ctrl-C
(SIGINT), as a person would.

The figures are whole-process wall times on whatever else the machine is doing: quote them with the machine's
load. Writes var/bench/startup.json. Usage: python -m bench.startup [--warm N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.figures import OUT, write_figures
from meshkit.mesh_runner import REPO_ROOT, SERVICES
from meshkit.ports import free_port

TIMEOUT_S = 300.0


def _ready(var: Path, pid: int) -> bool:
    try:
        description = json.loads((var / "mesh.json").read_text())
    except (OSError, ValueError):  # not there yet, or being written
        return False
    return bool(description.get("demoStaff")) and (description.get("launcher") or {}).get("pid") == pid


def launch_once(var: Path) -> float:
    """Seconds from starting the launcher to its mesh being ready; the launcher is stopped before returning."""
    env = {**os.environ, "MESH_VAR_DIR": str(var), "PYTHONPATH": str(REPO_ROOT)}
    env |= {f"{spec.env_prefix}_PORT": str(free_port()) for spec in SERVICES}
    var.mkdir(parents=True, exist_ok=True)
    with (var / "launcher.out").open("ab") as log:
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "meshkit.launcher"], cwd=REPO_ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            while not _ready(var, process.pid):
                if process.poll() is not None:
                    raise SystemExit(f"the launcher exited ({process.returncode}); see {var / 'launcher.out'}")
                if time.monotonic() - started > TIMEOUT_S:
                    raise SystemExit(f"not ready within {TIMEOUT_S:g} s; see {var / 'launcher.out'}")
                time.sleep(0.05)
            return time.monotonic() - started
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def bench(warm_runs: int) -> dict:
    var = OUT / "work-startup"
    shutil.rmtree(var, ignore_errors=True)
    cold = launch_once(var)
    warm = [launch_once(var) for _ in range(warm_runs)]
    shutil.rmtree(var, ignore_errors=True)
    return {
        "cold_ready_s": round(cold, 1),
        "warm_ready_s": round(statistics.median(warm), 1),
        "warm_runs_s": [round(w, 1) for w in warm],
        "load_average_1min": round(os.getloadavg()[0], 1),
        "note": "make run from an empty var/ (cold) and again on the var/ it left (warm, the median of the runs) "
                "until the table of URLs: whole-process wall times, as loaded as the machine was",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=3, help="restarts on the var/ the cold start left")
    args = parser.parse_args()
    write_figures("startup", bench(max(1, args.warm)))


if __name__ == "__main__":
    main()
