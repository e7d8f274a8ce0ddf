"""Where a log's error lines are (Backend.find_error): what the console's `e` and `n` land
on, found without reading the log page by page. Local logs go through an index kept per file
(scheduler.logerrors, grep -F and else bytes.find in this process); a DataWorks log is
searched in the whole text the API sends. Error output is domain.runlog's rule either way."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from opscenter.backends.dataworks.backend import DataWorksBackend
from opscenter.domain.runlog import is_cause, is_error
from opscenter.scheduler.logerrors import CANDIDATES, ErrorIndexes
from opscenter.scheduler.logfile import RunLog, create_log, format_header
from tests.harness import World
from tests.test_dataworks_backend import remote, scene, server  # noqa: F401 (fixtures)
from tests.test_runlog import CAUSES as RULE_CAUSES
from tests.test_runlog import NOT_ERRORS as RULE_NOT_ERRORS
from tests.test_runlog import SUMMARIES as RULE_SUMMARIES

STAMP = datetime(2026, 11, 20, 2, 10)
CAUSE = "mkdir: cannot create directory '/data/landing': Permission denied"


def write_log(path: Path, body: list[str]) -> None:
    """A log as an attempt writes it: the header ("triggered by: rerun after a failed load"
    is no error), the process's own lines, then the executor's stamped closing summary."""
    header = format_header(
        node="load",
        node_type="shell",
        instance_id=1,
        attempt=2,
        cyctime=STAMP,
        bizdate=STAMP.date(),
        parameters={"mode": "ERROR_ONLY"},
        triggered_by="rerun after a failed load",
        started=STAMP,
    )
    create_log(path, header)
    with path.open("a", encoding="utf-8") as log:
        log.writelines(line + "\n" for line in body)
    RunLog(path, lambda: STAMP).line("failed: exit code 1 after 0.1 s")


def starts(path: Path, test) -> list[int]:  # noqa: ANN001 - a line's test
    """Where the lines of the log that ``test`` holds for start: the expected answers."""
    found, at = [], 0
    for raw in path.read_bytes().splitlines(keepends=True):
        if test(raw.decode().rstrip("\n")):
            found.append(at)
        at += len(raw)
    return found


BODY = [
    "preparing the landing folder",
    "processed 12,000 rows: 0 errors, no failures",
    CAUSE,
    "retrying in 5 s",
    "Traceback (most recent call last):",
    '  File "job.py", line 3, in <module>',
    "ValueError: invalid literal for int() with base 10: 'x'",
]


def ask(indexes: ErrorIndexes, path: Path, offset: int, forward: bool, cause: bool):
    return indexes.find(path, offset, forward=forward, cause=cause)


def test_forward_backward_and_causes_only(tmp_path: Path) -> None:
    path = tmp_path / "attempt-2.log"
    write_log(path, BODY)
    errors, causes = starts(path, is_error), starts(path, is_cause)
    assert len(errors) == 4 and causes == errors[:3]  # the summary is last, not a cause
    index, end = ErrorIndexes(), path.stat().st_size
    assert ask(index, path, 0, True, True) == causes[0]  # e: the cause, not the header
    assert ask(index, path, causes[0] + 1, True, False) == errors[1]  # n
    assert ask(index, path, errors[2] + 1, True, False) == errors[3]  # n: the summary
    assert ask(index, path, errors[3] + 1, True, False) is None  # no more
    assert ask(index, path, end, False, False) == errors[3]  # N from the end
    assert ask(index, path, end, False, True) == causes[2]
    assert ask(index, path, causes[0], False, False) is None  # none before the first
    assert ErrorIndexes().find(tmp_path / "gone.log", 0, forward=True, cause=False) is None


def test_grep_and_the_scan_in_this_process_agree_over_many_candidates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines that hold a piece of an error word without being error output ("0 errors")
    come in steps of CANDIDATES; with no grep on PATH the same answers come from bytes.find."""
    path = tmp_path / "attempt-2.log"
    noise = [f"batch {n}: 0 errors" for n in range(3 * CANDIDATES)]
    write_log(path, [*noise, CAUSE, *noise, "ERROR: second trouble", *noise])
    errors, causes, end = starts(path, is_error), starts(path, is_cause), path.stat().st_size

    def answers() -> list[int | None]:
        index = ErrorIndexes()
        return [
            ask(index, path, 0, True, True),
            ask(index, path, causes[0] + 1, True, False),
            ask(index, path, end, False, True),
            ask(index, path, end, False, False),
        ]

    expected = [causes[0], causes[1], causes[1], errors[-1]]
    assert answers() == expected
    monkeypatch.setenv("PATH", "")
    assert answers() == expected


def test_a_line_written_later_is_found_once_it_is_whole(tmp_path: Path) -> None:
    """As a running process writes: the index goes on from where it stopped, and a line
    still without its newline is not yet one."""
    path = tmp_path / "attempt-1.log"
    path.write_text("07:05:00 start\nloading\n")
    index = ErrorIndexes()
    assert ask(index, path, 0, True, True) is None
    size = path.stat().st_size
    with path.open("a") as log:
        log.write(CAUSE)
    assert ask(index, path, 0, True, True) is None
    with path.open("a") as log:
        log.write("\nmore\n")
    assert ask(index, path, 0, True, True) == size


def test_a_log_written_anew_under_its_index_is_scanned_anew(tmp_path: Path) -> None:
    path = tmp_path / "attempt-1.log"
    path.write_text(f"one\n{CAUSE}\n")
    index = ErrorIndexes()
    assert ask(index, path, 0, True, True) == 4
    path.write_text(f"a longer first line\nsecond\n{CAUSE}\n")  # same file, other lines
    assert ask(index, path, 0, True, True) == len("a longer first line\nsecond\n")


def test_dataworks_finds_the_same_error_lines_as_the_local_store(
    remote: DataWorksBackend,  # noqa: F811 (the fixture)
    scene: World,  # noqa: F811
) -> None:
    """Over the API the run's whole text comes down (as read_log has it): searched there."""
    failed = scene.instance("failed")
    local = scene.backend
    path = Path(local.attempts(failed.id)[-1].log_path)
    lines = path.read_text().splitlines(keepends=True)
    assert lines[-1].split(" ", 1)[1].startswith("failed: exit code 1")
    path.write_text("".join([*lines[:-1], CAUSE + "\n", lines[-1]]))  # `exit 1` said nothing
    text = local.read_log(failed.id).text.encode()
    cause = text.index(CAUSE.encode())
    for backend in (local, remote):
        assert backend.find_error(failed.id, cause=True) == cause
        assert backend.find_error(failed.id, None, cause + 1) > cause  # the summary
        assert backend.find_error(failed.id, 1, len(text), forward=False, cause=True) == cause


@pytest.mark.parametrize("line", [*RULE_CAUSES, *RULE_SUMMARIES, *RULE_NOT_ERRORS])
def test_every_kind_of_error_output_is_found_by_grep_as_by_the_rule(
    tmp_path: Path, line: str
) -> None:
    """grep looks only for the pieces of the error words: each error word has one."""
    path = tmp_path / "attempt-1.log"
    path.write_text(f"07:05:00 start\n{line}\n")
    expected = 15 if is_error(line) else None
    assert ErrorIndexes().find(path, 0, forward=True, cause=False) == expected
