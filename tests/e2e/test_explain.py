"""Explain a ЦОН case on real processes and RabbitMQ (issue 20): a whole visit at the mamlyut desk, then
`meshctl explain NUMBER --svg FILE` — the SVG drawn by a stock renderer (rsvg-convert) into an image that is not
blank, its text naming every message of the case and every step of ИС МИО and ИС ЦОН — and the JSON and Mermaid
forms from the kit. The same in more detail, in process: tests/usecases/test_explain.py."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from defusedxml import ElementTree
from PIL import Image
from typer.testing import CliRunner

from meshkit import cli
from meshkit.sdk import Mesh
from tests.support.checkout import Checkout
from tests.support.docs_pages import page_block
from tests.support.mesh import MeshHandle

pytestmark = pytest.mark.e2e
CERTIFICATE = "employment.unemployed-certificate"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def kit(mesh: MeshHandle) -> Iterator[Mesh]:
    with mesh.kit() as kit:
        yield kit


def test_a_centre_case_explained_and_drawn(kit: Mesh, mesh: MeshHandle, tmp_path: Path):
    citizen = kit.new_citizen(district="mamlyut", min_age=25, max_age=50, jobless=True, register=False)
    kit.open_card("mamlyut", citizen.iin, kind="unemployed")
    desk = kit.operator_desk("mamlyut", index=1)
    ticket = kit.take_ticket("mamlyut", CERTIFICATE)
    desk.call(ticket["id"])
    visit = desk.sign(desk.intake(ticket["id"], citizen.iin, periodFrom="2026-01-01", periodTo="2026-06-30"))
    received = desk.wait(visit, "RECEIVED", "IN_PROGRESS", "COMPLETED", timeout_s=60)
    kit.settle(received["applicationNumber"])
    desk = kit.operator_desk("mamlyut", index=1)  # the skip outlived the login
    visit = desk.hand_out(desk.wait(visit, timeout_s=60), ticket_id=ticket["id"], presented_iin=citizen.iin)
    desk.close(ticket["id"])
    number = visit["applicationNumber"]

    explained = kit.explain(number)
    assert (explained["channel"], explained["status"]) == ("con", "COMPLETED")
    assert {s["system"] for s in explained["steps"]} == {"mio", "con"}
    assert all(s["finishedAt"] for s in explained["steps"]), "handed out: every step done"
    assert kit.explain(number, as_="mermaid").startswith("sequenceDiagram")

    drawing = tmp_path / "case.svg"
    ran = CliRunner().invoke(cli.app, ["explain", number, "--svg", str(drawing), "--mesh",
                                       str(mesh.write_mesh_file(tmp_path / "mesh.json"))])
    assert ran.exit_code == 0, ran.output
    texts = ["".join(t.itertext()) for t in ElementTree.parse(drawing).getroot().iter(f"{SVG}text")]
    for hop in explained["hops"]:
        if hop["kind"] == "message":
            assert any(f"{hop['serviceId']} {hop['messageType']}" in text for text in texts), hop
    for step in explained["steps"]:
        assert any(step["step"] in text for text in texts), step

    png = tmp_path / "case.png"
    subprocess.run(["rsvg-convert", "-o", str(png), str(drawing)], check=True, capture_output=True, timeout=60)
    image = Image.open(png).convert("L")
    width, height = image.size
    assert min(width, height) > 600, image.size
    histogram = image.histogram()
    inked = sum(histogram[:200]) / (width * height)  # pixels darker than near-white: lines, boxes, text
    assert inked > 0.01, f"a blank drawing ({inked:.4f} inked)"
    print(json.dumps({"png": [width, height], "inked": round(inked, 4), "texts": len(texts)}))


def test_the_explain_page_runs_as_written(mesh: MeshHandle, tmp_path: Path):
    """docs/explain.md's shell block (a ЦОН visit with `--settle`, then its explanation drawn and as Mermaid) and its
    Python snippet, in a directory laid out as a checkout's (.venv, var/mesh.json)."""
    run = partial(Checkout.of(tmp_path, mesh).run, timeout_s=600)

    lines = page_block("docs/explain.md", "meshctl explain <applicationNumber> --svg").splitlines()
    directory = json.loads(run("bash", "-euo", "pipefail", "-c", lines[0]))["directory"]
    visit = json.loads(run("bash", "-euo", "pipefail", "-c",
                           "\n".join(lines[1:3]).replace("var/citizens/<iin>", directory)))
    assert (visit["status"], visit["state"]) == ("COMPLETED", "HANDED_OUT"), visit
    for line in lines[3:]:
        out = run("bash", "-euo", "pipefail", "-c", line.replace("<applicationNumber>", visit["applicationNumber"]))
    assert out.startswith("sequenceDiagram"), out[:200]
    assert (tmp_path / "case.svg").read_text().startswith("<svg")

    (tmp_path / "snippet.py").write_text(page_block("docs/explain.md", "mesh.explain(number)"))
    printed = run(sys.executable, "snippet.py").splitlines()
    assert any("portal → mio.kyzylorda REQUEST" in line for line in printed), printed
    assert any(line.startswith("mio ") for line in printed), printed
