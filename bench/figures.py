"""Where `make bench` writes its figures (var/bench/NAME.json) and how it prints them."""

from __future__ import annotations

import json
from typing import Any

from meshkit.mesh_runner import REPO_ROOT

OUT = REPO_ROOT / "var" / "bench"


def write_figures(name: str, figures: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    print(f"\nwritten to {path.relative_to(REPO_ROOT)}")
