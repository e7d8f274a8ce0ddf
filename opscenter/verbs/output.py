"""How every verb prints: JSON with its times labelled, text tables cut only to fit a
terminal, and the times of one command in one zone."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from opscenter.backends.base import Backend
from opscenter.domain.records import ATTEMPT_NOTE, InstanceInfo
from opscenter.domain.rules import default_bizdate, duration_text, is_slow
from opscenter.domain.times import TimeView
from opscenter.options import Options

WALL, MOMENT = "wall", "moment"

# How each naive datetime of a record is kept (records.py), by field name: the one table
# to_json reads. A cyctime (and the keyset cursor made of one) is wall-clock time in the
# workspace zone; every other is a moment, naive UTC. Aware ones (next fire times, the
# world's now) say their zone themselves. A name not listed is taken as a moment.
TIME_FIELDS: dict[str, str] = {
    "cyctime": WALL,
    "after": WALL,  # InstanceFilter: (cyctime, id)
    "next_after": WALL,  # Page: (cyctime, id)
    "started_at": MOMENT,
    "finished_at": MOMENT,
    "retry_at": MOMENT,
    "deployed_at": MOMENT,
    "created_at": MOMENT,
    "updated_at": MOMENT,
    "at": MOMENT,
    "wall_at": MOMENT,  # the real time of an audited act (naive UTC too, despite its name)
    "est_start": MOMENT,
    "est_finish": MOMENT,
    "committed_at": MOMENT,
    "alert_at": MOMENT,
    "predicted_finish": MOMENT,
    "if_rerun_now": MOMENT,
    "first_at": MOMENT,
    "last_sent_at": MOMENT,
    "resolved_at": MOMENT,
}


def to_json(value: Any, view: TimeView | None = None, name: str = "") -> Any:
    """Records as JSON-ready data: enums by value, dates (business dates) ``yyyy-mm-dd`` and
    datetimes ISO 8601 instants with their offset, in ``view``'s zone (UTC without one).
    ``name`` is the field a value sits in: it says, through TIME_FIELDS, how a naive
    datetime is kept."""
    view = view or TimeView(UTC, UTC)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {
            f.name: to_json(getattr(value, f.name), view, f.name) for f in dataclasses.fields(value)
        }
        for extra in ("duration", "status_label", "total", "dates_done", "at_end"):
            if hasattr(type(value), extra):
                data[extra] = to_json(getattr(value, extra), view, extra)
        return data
    if isinstance(value, dict):
        return {
            (k.value if isinstance(k, Enum) else str(k)): to_json(v, view, str(k))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [to_json(v, view, name) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        if value.tzinfo is None and TIME_FIELDS.get(name, MOMENT) == WALL:
            return view.wall_instant(value).isoformat()
        return view.moment_instant(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def emit(
    args: argparse.Namespace, value: Any, text: Callable[[], str], view: TimeView | None = None
) -> None:
    """Print ``value`` as JSON with ``--json`` (its times as ``view`` shows them), else text."""
    print(json.dumps(to_json(value, view), indent=2) if args.json else text())


def time_view(backend: Backend, options: Options) -> TimeView:
    """Times as this command shows them: in the workspace zone, or in UTC with ``--utc``."""
    return TimeView.of(ZoneInfo(backend.workspace().timezone), options.utc)


@dataclasses.dataclass(frozen=True)
class Column:
    """A column of a text table: as wide as its widest cell. ``least`` is how narrow a
    terminal may cut it (None: never, as a name); ``gives`` orders the cuts (1 first)."""

    header: str
    right: bool = False
    least: int | None = None
    gives: int = 0


def terminal_width() -> int | None:
    """The terminal's width when stdout is one; None when piped or redirected, where
    nothing is cut."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None) -> list[str]:
    """The header and a line per row, columns one space apart. At a terminal (``width``)
    too narrow for them, the columns that may give are cut, in their order, down to their
    least, until the lines fit; a name never is, so a line may still wrap."""
    widths = [max([len(c.header), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    if width is not None:
        excess = sum(widths) + len(widths) - 1 - width
        for i in sorted(
            (i for i, c in enumerate(columns) if c.least), key=lambda i: columns[i].gives
        ):
            spare = max(widths[i] - (columns[i].least or 0), 0)
            widths[i] -= min(spare, max(excess, 0))
            excess -= min(spare, max(excess, 0))

    def line(cells: Sequence[str]) -> str:
        shown = [
            f"{cut(cell, w):{'>' if c.right else '<'}{w}}"
            for cell, c, w in zip(cells, columns, widths, strict=True)
        ]
        return " ".join(shown).rstrip()

    return [line([c.header for c in columns]), *(line(r) for r in rows)]


def instance_table(
    items: list[InstanceInfo],
    view: TimeView,
    now_utc: datetime | None = None,
    width: int | None = None,
) -> list[str]:
    """The header and a line per instance; the header names the cyctimes' zone
    (``CYCTIME (CST)``, ``CYCTIME (PST/PDT)`` across a change), never each row. Each run
    time (so far, when running at ``now_utc``, naive UTC) sits beside its node's usual one,
    ▲ when SLOW (decision 13.10), as the console marks it. At a terminal the owner, the run
    time and the status give way first; the node name never does."""
    label = view.walls_label(i.cyctime for i in items)
    columns = [
        Column("ID", right=True),
        Column("STATUS", least=9, gives=3),
        Column("NODE"),
        Column(f"CYCTIME ({label})" if label else "CYCTIME"),
        Column("ATT", right=True),
        Column("TOOK (AVG)", least=6, gives=2),
        Column("OWNER", least=3, gives=1),
    ]

    def cells(item: InstanceInfo) -> list[str]:
        ran = item.run_time(now_utc) if now_utc else item.duration
        took, slow = duration_text(ran), is_slow(ran, item.average)
        if ran is not None and (item.average or slow):
            took = f"{took}{'▲' if slow else ' '}({duration_text(item.average)})"
        return [
            str(item.id),
            item.status_label,
            item.node,
            f"{view.wall_instant(item.cyctime):%m-%d %H:%M}",
            item.attempt_cell,
            took,
            item.owner,
        ]

    lines = table(columns, [cells(i) for i in items], width)
    if any(i.past_automatic for i in items):
        lines.append(ATTEMPT_NOTE)
    return lines


def yesterday(backend: Backend) -> date:
    """The default business date of instance lists (spec 10), by the world's clock."""
    return default_bizdate(backend.now(), ZoneInfo(backend.workspace().timezone))


def now_utc(backend: Backend) -> datetime:
    """The world's time as records keep their moments (naive UTC)."""
    return backend.now().astimezone(UTC).replace(tzinfo=None)


# a baseline status as a glyph and its word, readable without colour
BASELINE_GLYPH = {"SAFE": "✓", "WARNING": "!", "OVER": "✗", "ERROR": "?"}
