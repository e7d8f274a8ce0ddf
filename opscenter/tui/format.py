"""How the console writes statuses, times and durations: short, and readable without colour."""

from __future__ import annotations

import locale
import os
import unicodedata
from datetime import UTC, date, datetime, tzinfo

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual.color import Color
from textual.filter import LineFilter

from opscenter.domain.model import DRY_RUN_GLYPH, Status
from opscenter.domain.records import InstanceInfo
from opscenter.domain.rules import run_time_text


def _unicode_terminal() -> bool:
    if os.environ.get("OPSCENTER_ASCII"):
        return False
    encoding = locale.getpreferredencoding(False) or ""
    return "utf" in encoding.lower()


UNICODE = _unicode_terminal()
SLOW_MARK = "▲" if UNICODE else "^"  # a SLOW run (decision 13.10, domain/rules.py)

# What each glyph becomes where the terminal has only ASCII: one cell for one cell, so
# what is drawn keeps its columns. The statuses keep spec's fallbacks (+ * . ~ o x # -).
ASCII_GLYPHS = {
    **{status.glyph: status.ascii_glyph for status in Status},
    DRY_RUN_GLYPH[0]: DRY_RUN_GLYPH[1],
    "·": "|",
    "•": "*",
    "×": "x",
    "▲": "^",
    "▼": "v",
    "→": ">",
    "←": "<",
    "↑": "^",
    "↓": "v",
    "↺": "~",
    "⟲": "@",
    "⏎": "<",
    "▸": ">",
    "▶": ">",
    "◂": "<",
    "◀": "<",
    "»": ">",
    "«": "<",
    "✔": "+",
    "✘": "x",
    "⚠": "!",
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
    "–": "-",
    "—": "-",
    "≤": "<",
    "≥": ">",
    "≈": "~",
    # blocks: the sparkline's own ASCII steps, bars and shades as the Gantt draws them
    **dict(zip("▁▂▃▄▅▆▇█", "_.-:=+*#", strict=True)),
    **dict.fromkeys("▏▎▍▌▋▊▉▐▕", "|"),
    **dict(zip("▔▀░▒▓", "--.:#", strict=True)),
}


def ascii_char(char: str) -> str:
    """A glyph, box line or block as ASCII of the same width; letters and digits of any
    script are data (a node's name) and stay as they are."""
    if char.isascii():
        return char
    if char in ASCII_GLYPHS:
        return ASCII_GLYPHS[char]
    name = unicodedata.name(char, "")
    if name.startswith("BOX DRAWINGS"):
        if " AND " in name or "DIAGONAL" in name:  # a corner, a tee, a cross
            return "+"
        if "HORIZONTAL" in name or name.endswith(("LEFT", "RIGHT")):
            return "=" if "HEAVY" in name or "DOUBLE" in name else "-"  # a focused panel's
        return "|"
    if name.startswith("QUADRANT"):
        return "#"
    if unicodedata.category(char)[0] in "LNM":
        return char
    return "?" * cell_len(char)


class _AsciiTable(dict[int, str]):
    """``str.translate``'s table for ``ascii_char``: a character is worked out the first
    time it is drawn, then looked up in C, so a repaint does no Python work per character."""

    def __missing__(self, code: int) -> str:
        self[code] = shown = ascii_char(chr(code))
        return shown


_ASCII_TABLE = _AsciiTable()


def ascii_text(text: str) -> str:
    return text if text.isascii() else text.translate(_ASCII_TABLE)


class AsciiOnly(LineFilter):
    """Every line drawn, ours, Textual's (borders, ellipses, scrollbars) and every other
    screen's, through ``ascii_char``: OPSCENTER_ASCII holds on every screen from one place."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            seg if seg.control or seg.text.isascii() else seg._replace(text=ascii_text(seg.text))
            for seg in segments
        ]


def status_class(status: Status) -> str:
    """The CSS component class that colours a status (the word and glyph carry it anyway)."""
    return f"status--{status.value.lower().replace('_', '-')}"


def glyph(status: Status, dry_run: bool = False) -> str:
    if dry_run and status is Status.SUCCESS:
        return DRY_RUN_GLYPH[0] if UNICODE else DRY_RUN_GLYPH[1]
    return status.glyph if UNICODE else status.ascii_glyph


def status_word(status: Status, dry_run: bool = False, *, short: bool = False) -> str:
    """Glyph and word, e.g. ``✗ FAILURE`` or ``↷ DRY-RUN`` (``⧗ WAIT_RES`` when short)."""
    word = "DRY-RUN" if dry_run and status is Status.SUCCESS else status.value
    if short and status is Status.WAIT_RESOURCE:
        word = "WAIT_RES"
    return f"{glyph(status, dry_run)} {word}"


def instance_status(info: InstanceInfo, *, short: bool = False) -> str:
    return status_word(info.status, info.dry_run, short=short)


def duration_against_average(info: InstanceInfo, now_utc: datetime) -> str:
    """``41m12s ▲ (18m00s)``: its run time (so far), ▲ when SLOW, its node's average."""
    return run_time_text(info.run_time(now_utc), info.average, mark=SLOW_MARK, label="") or "-"


def attempt(info: InstanceInfo, *, single: bool = False) -> str:
    """``2/4`` within the automatic attempts; a manual rerun beyond them is just its number.

    ``single`` writes ``1/1`` too (a failure with no automatic rerun left says so)."""
    if info.run_number == 0:
        return "-"
    if (single or info.max_attempts > 1) and info.run_number <= info.max_attempts:
        return f"{info.run_number}/{info.max_attempts}"
    return str(info.run_number)


def cyctime(moment: datetime) -> str:
    return f"{moment:%m-%d %H:%M}"


def local(moment: datetime | None, zone: tzinfo, fmt: str = "%H:%M") -> str:
    """A stored moment (naive UTC) as wall time in the workspace zone."""
    if moment is None:
        return "-"
    return moment.replace(tzinfo=UTC).astimezone(zone).strftime(fmt)


def bizdate(day: date) -> str:
    return day.isoformat()


def plain(value: object) -> Text:
    """Text that is never parsed as markup: node names may hold ``[``."""
    return Text(str(value), no_wrap=True, overflow="ellipsis")
