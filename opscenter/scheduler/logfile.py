"""Run logs: one file per attempt, readable while the attempt runs.

The executor writes a header, the node's own output (stdout and stderr, merged) is
appended straight to the same file by the subprocess, and the executor's own lines carry
an ``HH:MM:SS`` stamp so an operator can tell them from the node's output (how such a log
reads, where its header ends and which lines are error output, is ``domain.runlog``).
Everything is appended with O_APPEND, so lines from the executor and from a running
process never overwrite each other.

Logs can grow to megabytes; the console reads them in pages by byte offset
(:func:`read_page`) and follows a running one from near its end (:func:`tail_offset`).
Pages end at a line boundary, so a follower never shows half a line. Where the error
lines are is ``logerrors``' index: the node writes its output itself, so it is built by
scanning the file when first asked, not as lines pass through here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path

from opscenter.domain.cron import CronError, parse_cron
from opscenter.domain.runlog import HEADER_RULE, final_words
from opscenter.domain.times import zone_label
from opscenter.store.files import make_private_dirs, open_for_append

# A page may grow past its limit to finish a long line, but not without bound: a line
# longer than this (a binary dump without newlines) is cut so reading still advances.
LONGEST_LINE = 1 << 20
_BLOCK = 64 * 1024


def format_header(
    *,
    node: str,
    node_type: str,
    instance_id: int,
    attempt: int,
    cyctime: datetime,
    bizdate: date,
    parameters: Mapping[str, str],
    triggered_by: str,
    started: datetime,
) -> str:
    """The block that opens every attempt's log: what ran, for which cycle, with which values.

    ``started`` is the world's time in the workspace zone: the cyctime (wall-clock in that
    zone) and the start both say the zone, so neither reads as another zone's time.
    """
    zone = started.tzinfo
    cycle = cyctime.replace(tzinfo=zone) if zone is not None else cyctime
    lines = [
        f"node:         {node} ({node_type})",
        f"instance id:  {instance_id}",
        f"cyctime:      {cycle:%Y-%m-%d %H:%M:%S %Z}".rstrip(),
        f"started:      {started:%Y-%m-%d %H:%M:%S %Z}".rstrip(),
        f"bizdate:      {bizdate:%Y%m%d}",
        f"attempt:      {attempt}",
        f"triggered by: {_one_line(triggered_by)}",
    ]
    if parameters:
        lines.append("parameters:")
        lines.extend(f"  {name}={_one_line(value)}" for name, value in parameters.items())
    else:
        lines.append("parameters:   (none)")
    lines.append(HEADER_RULE)
    return "\n".join(lines) + "\n"


def _one_line(value: str) -> str:
    """Keep a value on its header line: a newline in a value must not forge a header field."""
    return value.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def create_log(path: Path, header: str) -> None:
    """Create the log (and missing folders, owner-only) and write its header.

    An existing file is appended to, never truncated: a log is evidence.
    """
    make_private_dirs(path.parent)
    os.close(open_log(path, header))


def open_log(path: Path, text: str) -> int:
    """``create_log`` in a folder that exists, keeping the log open: a descriptor appending
    to it, after ``text`` (a header and the executor's first line, in one write). A
    process's output goes through it; its position is where that output begins."""
    fd = open_for_append(path)
    try:
        os.write(fd, text.encode("utf-8"))
    except BaseException:
        os.close(fd)
        raise
    return fd


class RunLog:
    """Appends the executor's own lines to one attempt's log, each with an ``HH:MM:SS`` stamp."""

    def __init__(self, path: Path, now: Callable[[], datetime]) -> None:
        self.path = path
        self._now = now
        self._lock = threading.Lock()
        self.failed = ""  # why a line could not be written (a full disk), once one could not

    def stamped(self, message: str) -> str:
        """``message`` as ``line`` writes it: every line of it with its own stamp."""
        stamp = self._now().strftime("%H:%M:%S")
        return "".join(f"{stamp} {part}\n" for part in message.splitlines() or [""])

    def line(self, message: str) -> None:
        """Append ``message``; every line of a multi-line message gets its own stamp."""
        text = self.stamped(message)
        with self._lock:
            try:
                fd = open_for_append(self.path, readable=True)
            except OSError as error:
                self._lost(error)  # a log that cannot be written must not turn a run into a crash
                return
            try:
                if _ends_mid_line(fd):
                    text = "\n" + text
                os.write(fd, text.encode("utf-8", errors="replace"))
            except OSError as error:  # a full disk: nor must a log that stops taking lines
                self._lost(error)
            finally:
                os.close(fd)

    def now(self) -> datetime:
        """The world's time (simulated in a demo): what every duration in the log is told in,
        so the log and the screen agree on how long a run took."""
        return self._now()

    def seconds_since(self, start: datetime) -> float:
        return (self._now() - start).total_seconds()

    def _lost(self, error: OSError) -> None:
        self.failed = self.failed or error.strerror or str(error)


def _ends_mid_line(fd: int) -> bool:
    """True when a process left a last line without its newline: ours must start a new one.
    (``fd`` is open for reading too: an executor's line costs no second open of the log.)"""
    try:
        size = os.fstat(fd).st_size
        return size > 0 and os.pread(fd, 1, size - 1) != b"\n"
    except OSError:
        return False


def last_line(path: Path, start: int, limit: int = 200) -> str:
    """Why the process failed, from what it wrote at or after byte ``start``: its last error
    line, else its last line (``runlog.final_words``)."""
    try:
        with path.open("rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            begin = max(start, end - 8192)
            if begin >= end:
                return ""
            handle.seek(begin)
            data = handle.read(end - begin)
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if begin > start:
        text = text.partition("\n")[2]  # the first line may be the tail of a longer one
    line = final_words(text)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def read_page(path: Path, offset: int, limit_bytes: int) -> tuple[str, int]:
    """Up to ``limit_bytes`` of complete lines from byte ``offset``, and the offset to go on from.

    A page ends after a newline: a line still being written is left for the next call,
    and a line longer than the limit is returned whole (up to ``LONGEST_LINE``) rather
    than split. ``next_offset == offset`` means nothing new yet. A missing file reads
    as empty; an offset past the end (a trimmed log) restarts at its end.
    """
    limit = max(1, limit_bytes)
    try:
        with path.open("rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            if offset >= end:
                return "", min(offset, end)
            handle.seek(offset)
            data = handle.read(limit)
            cut = data.rfind(b"\n")
            if cut < 0:
                # The first line is longer than the page: finish it, within reason.
                while cut < 0 and len(data) < limit + LONGEST_LINE:
                    more = handle.read(_BLOCK)
                    if not more:
                        return "", offset  # the only line is still being written
                    at = more.find(b"\n")
                    if at >= 0:
                        cut = len(data) + at
                    data += more
                if cut < 0:
                    cut = limit + LONGEST_LINE - 1
            page = data[: cut + 1]
    except FileNotFoundError:
        return "", offset
    return page.decode("utf-8", errors="replace"), offset + len(page)


def tail_offset(path: Path, lines: int) -> int:
    """The byte offset where the last ``lines`` complete lines start, to follow a log's end.

    A line still being written (no newline yet) is not counted; read_page from the
    returned offset shows the last ``lines`` lines and then whatever follows.
    """
    try:
        with path.open("rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            position = end
            newlines: list[int] = []  # offsets of newline bytes, from the end backwards
            while position > 0:
                begin = max(0, position - _BLOCK)
                handle.seek(begin)
                block = handle.read(position - begin)
                index = len(block)
                while (index := block.rfind(b"\n", 0, index)) >= 0:
                    newlines.append(begin + index)
                    if len(newlines) > lines:
                        return newlines[-1] + 1
                position = begin
    except FileNotFoundError:
        return 0
    if lines <= 0:
        return newlines[0] + 1 if newlines else 0
    return 0


# -- the log of an instance that succeeded without running -----------------------------------
#
# A dry-run instance and a virtual node's instance settle as SUCCESS with no attempt, so no
# file is written for them (a virtual node moves through the state machine in well under a
# millisecond). Their log is rendered from what the store keeps about them (the dry-run
# reason, the node type, the time it settled) whenever it is read: one source of truth, the
# same after a restart, and nothing to clean up.

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WENT_ON = "so nothing ran and its downstream went on"


def quiet_log(
    *,
    node: str,
    node_type: str,
    dry_run: bool,
    dry_run_reason: str,
    cron: str,
    cyctime: datetime,
    settled: datetime,
    backfill_id: int | None = None,
) -> str:
    """Two lines saying why nothing ran and when the instance succeeded all the same.

    ``cyctime`` is wall-clock time in the workspace zone; ``settled`` is the world's time
    it succeeded, aware, in that zone (its name is said beside the abbreviation).
    """
    if dry_run:
        why = "dry-run: " + _dry_run_words(node, dry_run_reason, cron, cyctime, backfill_id)
    else:
        why = f"{node_type} node: nothing to run; it succeeds when its upstream has succeeded"
    return f"{_one_line(why)}\n{_settled_words(settled)}\n"


def _dry_run_words(
    node: str, reason: str, cron: str, cyctime: datetime, backfill_id: int | None
) -> str:
    """Why a dry-run instance did not run, in an operator's words (reasons: domain.slots,
    generate, backfill and undeploy set them)."""
    if reason == "not a run day":
        day = cyctime.date()
        try:
            schedule = parse_cron(cron)
        except CronError:
            return f"{node} does not run on {day:%Y-%m-%d}, {_WENT_ON}"
        weekly = schedule.describe().startswith("weekly")
        which = f"is a {_WEEKDAYS[day.weekday()]}" if weekly else "is not one of its days"
        return f"{node} runs {schedule.describe()}; {day:%Y-%m-%d} {which}, {_WENT_ON}"
    if reason == "dry-run node":
        return f"{node}'s recurrence is Skip (dry-run), {_WENT_ON}"
    if reason == "expired":
        return (
            f"{node} was deployed (Immediately) too close to, or after, this cycle's time "
            f"{cyctime:%Y-%m-%d %H:%M}, so the instance expired; nothing ran and its "
            "downstream went on"
        )
    if reason == "not selected in backfill":
        which = f"backfill #{backfill_id}" if backfill_id is not None else "the backfill"
        return (
            f"{node} was not selected in {which} (it only passes its dependencies on), {_WENT_ON}"
        )
    if reason == "node undeployed":
        return f"{node} was undeployed before this instance ran (zero-load), so nothing ran"
    return f"{reason or 'the instance runs dry'}, {_WENT_ON}"


def _settled_words(settled: datetime) -> str:
    """``succeeded at 2025-11-01 02:00:00 CST (Asia/Shanghai) with no attempt: ...``"""
    stamp = f"{settled:%Y-%m-%d %H:%M:%S}"
    if settled.tzinfo is not None:
        label, name = zone_label(settled), str(settled.tzinfo)
        stamp += f" {label}" + (f" ({name})" if name and name != label else "")
    return f"succeeded at {stamp} with no attempt: no process, no run time"


def text_page(data: bytes, offset: int, limit_bytes: int) -> tuple[str, int]:
    """:func:`read_page` over a log held in memory (a rendered one): complete lines only."""
    end = len(data)
    if offset >= end:
        return "", min(max(offset, 0), end)
    offset = max(offset, 0)
    cut = data.rfind(b"\n", offset, offset + max(1, limit_bytes))
    if cut < 0:  # a line longer than the page: finish it
        cut = data.find(b"\n", offset)
        cut = end - 1 if cut < 0 else cut
    page = data[offset : cut + 1]
    return page.decode("utf-8", errors="replace"), offset + len(page)
