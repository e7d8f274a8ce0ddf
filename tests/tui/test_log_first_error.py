"""A large log in the instance detail: it opens at its last line and `e` lands on the first
error far into it, and neither reads the log up to there through the console's pages
(Backend.read_log): the backend finds error lines (issue 19, must-have 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opscenter.backends.dataworks.client import Credentials, DataWorksClient
from opscenter.backends.local import LocalBackend
from opscenter.domain.records import LogPage
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.instance import InstanceScreen
from opscenter.tui.widgets.log_view import PAGE_BYTES
from tests import test_dataworks_emulator as emulated
from tests.test_dataworks_emulator import make
from tests.tui.helpers import press, screen_text, settle
from tests.tui.test_instance_screen import instance_id, log_of, wait_for

scene = emulated.scene  # the emulator's world and server fixtures, reused
server = emulated.server
MB = 1024 * 1024
CHATTER = "".join(
    f"07:05:00 INFO batch {n:06d}: read 1000 rows from ods_orders, wrote 998\n" for n in range(8192)
).encode()
LAST = "07:05:00 the very last line"
CAUSE = "mkdir: cannot create directory '/data/landing': Permission denied"
PAGES_TO_OPEN = 3  # the start (for the size) and the end, and one more for context
PAGES_TO_LAND = 3  # the page at the error and the one above it


def write_chatter(path: Path, megabytes: int, *, error_at: int | None = None) -> int:
    """A log of ``megabytes`` of a job's chatter ending in ``LAST``, with ``CAUSE`` after
    ``error_at`` MB; where the cause starts (or -1)."""
    start = -1
    with path.open("wb") as log:
        log.write(b"07:05:00 start\n")
        while log.tell() < megabytes * MB:
            if error_at is not None and start < 0 and log.tell() >= error_at * MB:
                start = log.tell()
                log.write(CAUSE.encode() + b"\n")
            log.write(CHATTER)
        log.write(LAST.encode() + b"\n")
    return start


def count_reads(backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bytes of each page the console reads through the backend."""
    read: list[int] = []
    real = backend.read_log

    def counted(instance: int, attempt: int | None = None, offset: int = 0, limit: int = 65536):
        page: LogPage = real(instance, attempt, offset, limit)
        read.append(page.next_offset - page.offset)
        return page

    monkeypatch.setattr(backend, "read_log", counted)
    return read


async def open_at_end(pilot, app: OpsApp, iid: int) -> None:
    await settle(pilot)
    app.open_instance(iid)
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, InstanceScreen) and LAST in screen_text(pilot),
    )
    await settle(pilot)


async def test_e_lands_on_the_first_error_30_mb_into_a_40_mb_log_reading_a_few_pages(
    demo_backend, monkeypatch
):
    iid = instance_id(demo_backend, "dq_sales_volume")
    path = Path(demo_backend.attempts(iid)[-1].log_path)
    error_at = write_chatter(path, 40, error_at=30)
    read = count_reads(demo_backend, monkeypatch)
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_at_end(pilot, app, iid)
        view = log_of(app)
        assert view.current is not None and view.current.text == LAST
        assert sum(read) <= PAGES_TO_OPEN * PAGE_BYTES
        opened = len(read)
        await press(pilot, "e")
        await wait_for(pilot, lambda: view.current is not None and CAUSE in view.current.text)
        await settle(pilot)
        assert view.current.offset == error_at
        assert f">{CAUSE}"[:60] in screen_text(pilot)
        assert sum(read[opened:]) <= PAGES_TO_LAND * PAGE_BYTES  # not the 30 MB before it


async def test_an_error_written_after_the_log_opened_is_found(demo_backend, monkeypatch):
    """No error at first: `e` says so having read no page; then a line of error output is
    appended (as a running process writes it) and `e` finds it."""
    iid = instance_id(demo_backend, "dq_sales_volume")
    path = Path(demo_backend.attempts(iid)[-1].log_path)
    write_chatter(path, 20)
    read = count_reads(demo_backend, monkeypatch)
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_at_end(pilot, app, iid)
        view = log_of(app)
        opened = len(read)
        await press(pilot, "e")
        said = "no more matches for errors"
        await wait_for(pilot, lambda: said in [n.message for n in app._notifications])
        assert view.current is not None and view.current.text == LAST  # it stayed
        assert read[opened:] == []  # nothing read to learn that
        size = path.stat().st_size
        with path.open("a", encoding="utf-8") as log:
            log.write(f"07:06:00 {CAUSE}\n07:06:00 still going\n")
        await press(pilot, "e")
        await wait_for(pilot, lambda: view.current is not None and CAUSE in view.current.text)
        assert view.current.offset == size
        assert sum(read[opened:]) <= PAGES_TO_LAND * PAGE_BYTES


async def test_e_over_the_dataworks_api_lands_on_the_cause(server, scene, tmp_path):
    """Over DataWorks the run's whole text comes down with the first page; `e` is found in
    it (the backend's find_error), the cause before the closing summary."""
    failed = scene.instance("failed")
    path = Path(scene.backend.attempts(failed.id)[-1].log_path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines[:-1], CAUSE + "\n", lines[-1]]))  # `exit 1` said nothing
    with DataWorksClient(Credentials(emulated.KEY_ID, emulated.SECRET), server.url) as client:
        app = OpsApp(make(client, scene, tmp_path), start="instances")
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            app.open_instance(failed.id)
            await wait_for(
                pilot,
                lambda: (
                    isinstance(app.screen, InstanceScreen)
                    and ">01:00:00 failed: exit code 1" in screen_text(pilot)
                ),  # at its end
            )
            view = log_of(app)
            await press(pilot, "e")
            await wait_for(pilot, lambda: view.current is not None and CAUSE in view.current.text)
            await press(pilot, "n")  # n walks on to the closing summary
            await wait_for(pilot, lambda: "failed: exit code 1" in view.current.text)
