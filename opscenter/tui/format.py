"""How the console writes statuses, times and durations: short, and readable without colour."""

from __future__ import annotations

import locale
import os
from datetime import UTC, date, datetime, tzinfo

from rich.text import Text

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


def attempt_words(info: InstanceInfo) -> str:
    """``attempt 2 of 4``; ``attempt 3 (1 automatic)`` after operator reruns."""
    plural = "s" if info.max_attempts != 1 else ""
    if info.run_number == 0:
        return f"max {info.max_attempts} attempt{plural}"
    if info.run_number <= info.max_attempts:
        return f"attempt {info.run_number} of {info.max_attempts}"
    return f"attempt {info.run_number} ({info.max_attempts} automatic)"


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
