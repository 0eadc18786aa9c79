"""docs/errors.md, generated from the error catalogue (shared/error_catalogue.py): ``python -m meshkit.errors_doc``
(``make docs``). tests/unit/test_error_catalogue.py checks the checked-in file is current."""

from __future__ import annotations

from collections import Counter

from shared.error_catalogue import AREAS, CATALOGUE, Fault

_FAULTS = {
    Fault.CALLER: "the request itself is wrong: change it before sending it again",
    Fault.STATE: "the request is fine, but what is stored says no (not found, already done, not yet)",
    Fault.AUTH: "who asks is not proven, or not allowed to",
    Fault.DEPENDENCY: "something the mesh needs is down or slow: the same request may work later",
    Fault.MESH: "a fault of ours (a bug, a misconfiguration): nothing the caller can change",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    entries = list(CATALOGUE.values())
    faults = Counter(e.fault for e in entries)
    statuses = Counter(e.status for e in entries)
    out = [
        "# Error codes",
        "",
        "<!-- Generated from shared/error_catalogue.py by `make docs` (python -m meshkit.errors_doc): do not edit. -->",
        "",
        "Every refusal over HTTP is a JSON body `{\"code\": …, \"message\": …, \"details\": …}` (`details` only when "
        "there is more to say). The **code** is stable and says what is wrong; the **message** is the raise site's "
        "own and names the value at fault; the HTTP **status** is the code's, one per code, from the catalogue "
        "below. Each route's OpenAPI (`/openapi.json`, `/docs`) lists the codes it can answer under each status.",
        "",
        "The mesh's refusals of messages — `Client.*` (the sender's fault) and `Server.*` (the provider's, the "
        "gateway's or the mesh's) — travel in ERROR envelopes and dead letters (`x-refusal-code`). A member's HTTP "
        "API that made a call through the mesh and got one passes it on under that code with the status of the "
        "hop that failed: 504 for `Server.Timeout`, 503 for a refusal that heals by itself (`Server.ClockSkew`, "
        "`Server.OcspResponderUnreachable`), 502 for any other; the status in the tables is the code's own.",
        "",
        "Whose fault a code is:",
        "",
        *[f"- **{fault.value}** ({faults[fault]} codes) — {what}" for fault, what in _FAULTS.items()],
        "",
        f"{len(entries)} codes; by status: " + ", ".join(f"{s} × {n}" for s, n in sorted(statuses.items())) + ".",
        "",
        "| area | codes |",
        "|---|---|",
        *[f"| [{area.title}](#{_anchor(area.title)}) | {sum(e.area is area for e in entries)} |" for area in AREAS],
        "",
    ]
    for area in AREAS:
        rows = sorted((e for e in entries if e.area is area), key=lambda e: (e.status, e.code))
        out += [f"## {area.title}", "", area.about, "", "| status | code | fault | meaning |", "|---|---|---|---|"]
        out += [f"| {e.status} | `{e.code}` | {e.fault.value} | {_cell(e.description)} |" for e in rows]
        out.append("")
    return "\n".join(out)


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, spaces to hyphens, punctuation other than hyphens and underscores out."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


if __name__ == "__main__":
    print(render(), end="")
