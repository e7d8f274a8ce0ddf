"""How the console writes statuses, times and durations: short, and readable without colour."""

from __future__ import annotations

import locale
import os
from datetime import UTC, date, datetime, tzinfo

from rich.text import Text

from opscenter.domain.model import DRY_RUN_GLYPH, Status
from opscenter.domain.records import InstanceInfo

SLOW_FACTOR = 1.5  # a run this many times its node's average is marked ▲


def _unicode_terminal() -> bool:
    if os.environ.get("OPSCENTER_ASCII"):
        return False
    encoding = locale.getpreferredencoding(False) or ""
    return "utf" in encoding.lower()


UNICODE = _unicode_terminal()


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


def duration(seconds: float | None) -> str:
    """``12s``, ``4m12s``, ``2h05m``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def run_time(info: InstanceInfo, now_utc: datetime) -> float | None:
    """Seconds it ran, or has been running so far (``now_utc`` naive UTC)."""
    if info.started_at is None:
        return None
    end = info.finished_at or (now_utc if info.status is Status.RUNNING else None)
    return (end - info.started_at).total_seconds() if end else None


def duration_against_average(info: InstanceInfo, now_utc: datetime) -> str:
    """``41m ▲ (18m)``: its run time, ▲ when 1.5x its node's average, the average in brackets."""
    took = run_time(info, now_utc)
    if took is None:
        return "-"
    text = duration(took)
    if info.average:
        slow = took >= SLOW_FACTOR * info.average
        mark = (" ▲" if UNICODE else " ^") if slow else ""
        text += f"{mark} ({duration(info.average)})"
    return text


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
