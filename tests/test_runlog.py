"""What reads as error output in a run log, and which error line is the cause (domain.runlog),
on lines as the executors write them: a real shell node's stderr included."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from opscenter.domain.model import NodeType
from opscenter.domain.runlog import (
    HEADER_RULE,
    error_spans,
    final_words,
    is_cause,
    is_error,
)
from opscenter.scheduler.executors import Executors, Job

CAUSES = [
    "mkdir: cannot create directory '/data/landing': Permission denied",
    "cp: cannot stat 'orders.csv': No such file or directory",
    "job.sh: line 3: frobnicate: command not found",
    "Traceback (most recent call last):",
    "ValueError: invalid literal for int() with base 10: 'x'",
    "error: the landing folder is not mounted",
    "2026-11-20 02:10:01 ERROR read timed out after 30s",
    "fatal: not a git repository",
    "02:10:01 statement 3 failed:",
    "02:10:01 Catalog Error: Table with name dwd_orders does not exist!",
    "02:10:01 quality check failed: 1 violating row",
    "02:10:01 killed: timeout after 3600 s",
    "02:10:01 cannot start shell node: bash not found on PATH",
    "curl exited with exit code 7",
]
SUMMARIES = [
    "02:10:01 failed: exit code 1 after 0.1 s",
    "02:10:01 failed: terminated by SIGKILL after 4.0 s",
    "02:10:01 process group ended (terminated by SIGTERM) after 1.0 s",
]
NOT_ERRORS = [
    "triggered by: rerun after a failed load",  # the header says how it started
    "  mode=ERROR_ONLY",  # a parameter line of the header
    "processed 12,000 rows: 0 errors, no failures",
    "02:10:01 finished: exit code 0 after 0.1 s",
    "02:10:01 quality check passed: no violating rows (0.01 s)",
    HEADER_RULE,
]


@pytest.mark.parametrize("line", CAUSES)
def test_error_output_is_a_cause(line: str) -> None:
    assert is_error(line) and is_cause(line)


@pytest.mark.parametrize("line", SUMMARIES)
def test_the_closing_summary_is_error_output_but_not_its_cause(line: str) -> None:
    assert is_error(line) and not is_cause(line)


@pytest.mark.parametrize("line", NOT_ERRORS)
def test_ordinary_lines_are_not_errors(line: str) -> None:
    assert not is_error(line)


def test_a_page_of_text_is_searched_line_by_line_as_one_line_is_checked() -> None:
    lines = [*NOT_ERRORS, *CAUSES, *NOT_ERRORS, *SUMMARIES, "ok"]
    text = "\n".join(lines) + "\n"
    data = text.encode()
    starts = [data.index((line + "\n").encode()) for line in lines]
    spans = list(error_spans(data, 0, len(data)))
    assert [data[start:end].decode() for start, end, _ in spans] == [*CAUSES, *SUMMARIES]
    assert [start for start, _, _ in spans] == [
        at for at, line in zip(starts, lines, strict=True) if is_error(line)
    ]
    assert [start for start, _, cause in spans if cause] == [
        at for at, line in zip(starts, lines, strict=True) if is_cause(line)
    ]


def failed_shell_log(path: Path, now: datetime) -> None:
    """A real bash run of a shell node that fails as an operator meets it, its log at
    ``path``: stderr (``mkdir: cannot …``) unmarked between its output and the closing
    ``failed: exit code``, and ``failed`` in the header, which is no error."""
    runner = Executors(path.parent / "w.duckdb", path.parent / "landing", now=lambda: now)
    job = Job(
        instance_id=1,
        attempt=1,
        node="dq_sales_volume",
        node_type=NodeType.SHELL,
        code="echo preparing the landing folder\nmkdir /proc/opscenter/landing\n",
        parameters={},
        cyctime=datetime(2026, 11, 20, 0, 50),
        bizdate=date(2026, 11, 19),
        triggered_by="rerun after a failed load",
        log_path=path,
        speed=1.0,
    )
    path.unlink(missing_ok=True)
    try:
        assert runner.start(job).wait().exit_code == 1
    finally:
        runner.close()


def test_a_failed_shell_nodes_cause_is_its_stderr_line_above_the_exit_code(tmp_path: Path) -> None:
    """Stderr is merged into the log unmarked, and the first cause found in the whole text
    (as the console scans a file) is the mkdir line, not the summary."""
    log = tmp_path / "attempt-1.log"
    failed_shell_log(log, STAMP)
    data = log.read_bytes()
    first, end = next(
        (start, end) for start, end, cause in error_spans(data, 0, len(data)) if cause
    )
    line = data[first:end].decode()
    text = data.decode()
    assert line.startswith("mkdir: cannot create directory") and "/proc/opscenter" in line
    last = text.splitlines()[-1]
    assert last.startswith("02:10:00 failed: exit code 1") and not is_cause(last)


STAMP = datetime(2026, 11, 20, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_a_failures_reason_is_its_last_error_line_else_its_last_words() -> None:
    """Both backends give this as the reason the dashboard shows beside a failure."""
    mkdir = "mkdir: cannot create directory '/data/x': Permission denied"
    log = (
        f"node: a\n{HEADER_RULE}\n{mkdir}\ncleaning up\n10:00:01 failed: exit code 1 after 0.1 s\n"
    )
    assert final_words(log) == mkdir  # not the summary, nor the normal line after the cause
    assert final_words("loading\nrows: 0\n") == "rows: 0"
    assert final_words("") == ""
