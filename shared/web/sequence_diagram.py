"""A sequence diagram of a case — participants, arrows between them, notes over them — written as Mermaid text and
drawn as a standalone SVG. Drawn here rather than by Mermaid's own renderer: that needs node and a headless browser,
and the SVG must come out of a running gateway, on a machine that has neither, for a person to open as it is.

The layout is the simplest that reads: one column per participant in the order first seen, one row per event
top to bottom, text escaped for XML; an arrow's label whole (a note's cut to its box: the JSON beside it has every
word).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from xml.sax.saxutils import escape

Style = Literal["ok", "refused", "fault", "step", "overdue", "info"]

COLUMN = 190
ROW = 30
HEAD = 46
MARGIN = 20
NOTE_CHARS = 44
ARROW_CHARS = 90
COLOURS: dict[str, str] = {"ok": "#1f4e79", "refused": "#b00020", "fault": "#c25e00", "step": "#2e7d32",
                           "overdue": "#b00020", "info": "#555555"}
NOTE_FILL: dict[str, str] = {"ok": "#eef4fb", "refused": "#fdecee", "fault": "#fff3e0", "step": "#edf7ee",
                             "overdue": "#fdecee", "info": "#f4f4f4"}


@dataclass(frozen=True)
class Participant:
    id: str
    label: str


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    text: str
    style: Style = "ok"


@dataclass(frozen=True)
class Note:
    over: str
    text: str
    style: Style = "info"


@dataclass
class Diagram:
    title: str
    participants: list[Participant] = field(default_factory=list)
    events: list[Arrow | Note] = field(default_factory=list)

    def participant(self, pid: str, label: str) -> None:
        if all(p.id != pid for p in self.participants):
            self.participants.append(Participant(pid, label))

    def arrow(self, source: str, target: str, text: str, style: Style = "ok") -> None:
        self.events.append(Arrow(source, target, text, style))

    def note(self, over: str, text: str, style: Style = "info") -> None:
        self.events.append(Note(over, text, style))


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mermaid_id(pid: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in pid)


def _mermaid_text(text: str) -> str:
    """Mermaid ends a message at a newline and reads ``;`` and ``#`` as syntax: they become look-alikes."""
    return " ".join(text.split()).replace(";", ",").replace("#", "№").replace(":", "∶")


def to_mermaid(diagram: Diagram) -> str:
    lines = ["sequenceDiagram", f"    title {_mermaid_text(diagram.title)}"]
    for p in diagram.participants:
        lines.append(f"    participant {_mermaid_id(p.id)} as {_mermaid_text(p.label)}")
    for event in diagram.events:
        if isinstance(event, Arrow):
            head = "-x" if event.style in ("refused", "fault") else "->>"
            lines.append(f"    {_mermaid_id(event.source)}{head}{_mermaid_id(event.target)}: "
                         f"{_mermaid_text(event.text)}")
        else:
            lines.append(f"    Note over {_mermaid_id(event.over)}: {_mermaid_text(event.text)}")
    return "\n".join(lines) + "\n"


def to_svg(diagram: Diagram) -> str:
    """The diagram as a standalone SVG document (no script, no external reference)."""
    columns = {p.id: MARGIN + COLUMN // 2 + i * COLUMN for i, p in enumerate(diagram.participants)}
    width = MARGIN * 2 + COLUMN * max(len(diagram.participants), 1)
    top = MARGIN + 24 + HEAD
    height = top + ROW * (len(diagram.events) + 1) + MARGIN
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
           f'<title>{escape(diagram.title)}</title>',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{MARGIN}" y="{MARGIN + 10}" font-size="14" font-weight="bold">{escape(diagram.title)}</text>',
           "<defs>" + "".join(f'<marker id="head-{style}" markerWidth="8" markerHeight="8" refX="7" refY="4" '
                              f'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="{colour}"/></marker>'
                              for style, colour in COLOURS.items()) + "</defs>"]
    for p in diagram.participants:
        x = columns[p.id]
        out.append(f'<rect x="{x - COLUMN // 2 + 8}" y="{MARGIN + 24}" width="{COLUMN - 16}" height="{HEAD - 12}" '
                   f'rx="4" fill="#eaeef3" stroke="#1f4e79"/>')
        out.append(f'<text x="{x}" y="{MARGIN + 24 + (HEAD - 12) // 2 + 4}" text-anchor="middle" '
                   f'font-weight="bold">{escape(_cut(p.label, 28))}</text>')
        out.append(f'<line x1="{x}" y1="{top - 12}" x2="{x}" y2="{height - MARGIN}" stroke="#9aa7b4" '
                   f'stroke-dasharray="4 4"/>')
    for row, event in enumerate(diagram.events, start=1):
        y = top + row * ROW
        colour = COLOURS[event.style]
        if isinstance(event, Arrow):
            x1, x2 = columns[event.source], columns[event.target]
            if x1 == x2:  # to itself: a small loop
                out.append(f'<path d="M{x1},{y - 8} h30 v12 h-26" fill="none" stroke="{colour}" '
                           f'marker-end="url(#head-{event.style})"/>')
                out.append(f'<text x="{x1 + 36}" y="{y}" fill="{colour}">{escape(_cut(event.text, ARROW_CHARS))}'
                           f'</text>')
                continue
            dash = ' stroke-dasharray="6 3"' if event.style in ("refused", "fault") else ""
            out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" stroke-width="1.4"{dash} '
                       f'marker-end="url(#head-{event.style})"/>')
            # Left-aligned from the leftmost end, whole: a label may run over the next lifeline, never be cut short
            out.append(f'<text x="{min(x1, x2) + 6}" y="{y - 5}" fill="{colour}">'
                       f'{escape(_cut(event.text, ARROW_CHARS))}</text>')
        else:
            x = columns[event.over]
            text = _cut(event.text, NOTE_CHARS)
            box = min(max(len(text) * 6 + 12, 80), COLUMN * 2 - 20)
            out.append(f'<rect x="{x - box // 2}" y="{y - 15}" width="{box}" height="20" rx="3" '
                       f'fill="{NOTE_FILL[event.style]}" stroke="{colour}"/>')
            out.append(f'<text x="{x}" y="{y - 1}" text-anchor="middle" fill="{colour}">{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
