"""The instance detail as an on-call engineer uses it, against the demo's real store and logs."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text

from opscenter.domain.model import Status
from opscenter.domain.records import InstanceFilter, LogPage
from opscenter.scheduler.logfile import read_page
from opscenter.tui.app import OpsApp
from opscenter.tui.clipboard import osc52
from opscenter.tui.screens.confirm import ConfirmScreen
from opscenter.tui.screens.instance import InstanceScreen
from opscenter.tui.widgets.log_view import (
    MAX_LINE_CHARS,
    MAX_LINES,
    LogView,
    clean,
    read_before,
    split_lines,
)
from tests.test_runlog import failed_shell_log
from tests.tui.helpers import press, screen_text, settle

BIZDATE = date(2026, 11, 19)
QUALITY_LINE = "quality check failed: 1 violating row"
LOG_STAMP = datetime(2026, 11, 20, 7, 5, tzinfo=ZoneInfo("Asia/Shanghai"))


def instance_id(backend, node: str, bizdate: date = BIZDATE) -> int:
    return backend.list_instances(InstanceFilter(node=node, bizdate=bizdate)).items[0].id


async def open_detail(pilot, app: OpsApp, iid: int) -> InstanceScreen:
    await settle(pilot)
    app.open_instance(iid)
    await settle(pilot)
    assert isinstance(app.screen, InstanceScreen)
    return app.screen


def log_of(app: OpsApp) -> LogView:
    return app.screen.query_one(LogView)


async def wait_for(pilot, condition, seconds: float = 30.0) -> float:
    """Wait until ``condition()`` holds; how long it took (fails past ``seconds``)."""
    start = time.perf_counter()
    while not condition():
        assert time.perf_counter() - start < seconds, "the screen did not get there in time"
        await pilot.pause(0.02)
    return time.perf_counter() - start


def file_reader(path: Path):
    """The log read as the local backend reads it (logfile.read_page), without a store."""

    def read(offset: int, limit: int) -> LogPage:
        text_read, next_offset = read_page(path, offset, limit)
        return LogPage(1, 1, text_read, offset, next_offset, path.stat().st_size)

    return read


def test_lines_read_backwards_keep_their_exact_byte_offsets(tmp_path):
    lines = [f"{n:03d} 订单 {'数据' * (n % 7)} ok" for n in range(300)]
    path = tmp_path / "utf8.log"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    raw = path.read_bytes()
    read = file_reader(path)
    seen: list = []
    end = len(raw)
    while end > 0:  # pages of 200 bytes start mid-character; the partial line is dropped
        body, begin, _page = read_before(read, end, 200)
        seen[:0] = split_lines(body, begin)
        assert begin < end
        end = begin
    assert [line.text for line in seen] == lines
    for line in seen:
        assert raw[line.offset :].startswith(line.text.encode("utf-8"))


def test_a_log_line_cannot_drive_the_terminal_and_long_lines_are_cut():
    assert clean("\x1b[31mred\x1b[0m \x1b]0;title\x07 bell\x07\ttab\r") == "red  bell^G  tab"
    long = clean("x" * (MAX_LINE_CHARS * 3))
    assert len(long) == MAX_LINE_CHARS and long.endswith("…")


async def test_a_failed_instance_shows_its_status_attempt_why_and_log(demo_backend):
    iid = instance_id(demo_backend, "dq_sales_volume")
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, iid)
        shown = screen_text(pilot)
        assert f"dq_sales_volume · #{iid} · cyctime 2026-11-20 00:50 · bizdate 20261119" in shown
        assert "✗ FAILURE" in shown and "attempt 1 of 1" in shown
        assert "group warehouse" in shown and "prio 8" in shown
        assert "periodic · quality · owner alice" in shown
        assert "week_ago=20261112 bizdate=20261119" in shown  # rendered parameters
        assert "att 1 ✗ FAILURE · scheduler" in shown
        assert f"Why not done: failed: {QUALITY_LINE}" in shown
        assert "✓ not frozen" in shown and "✗ run" in shown
        # the log opens at its end, where the failure is, with the cursor on the last line
        assert QUALITY_LINE in shown
        assert "Log · attempt 1/1 · end of" in shown
        view = log_of(app)
        assert view.current is not None and "20261119 | 646" in view.current.text
        # the tree shows both directions with statuses
        assert "Upstream (1)" in shown and "✓ sales_raw" in shown
        assert "Downstream (2)" in shown and "○ sales_daily" in shown
        # esc goes back to the list
        await press(pilot, "escape")
        assert app.screen.__class__.__name__ == "InstancesScreen"


async def test_e_puts_the_first_error_line_under_the_cursor(demo_backend):
    iid = instance_id(demo_backend, "dq_sales_volume")
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, iid)
        await press(pilot, "e")
        view = log_of(app)
        assert view.current is not None and QUALITY_LINE in view.current.text
        assert f">07:05:00 {QUALITY_LINE}" in screen_text(pilot)  # the cursor mark, no colour
        # a refresh re-reads the instance and keeps the log where it is
        app.screen.refresh_now()
        await settle(pilot)
        assert QUALITY_LINE in view.current.text


async def test_e_goes_to_the_cause_not_the_closing_exit_code(demo_backend):
    iid = instance_id(demo_backend, "dq_sales_volume")
    failed_shell_log(Path(demo_backend.attempts(iid)[-1].log_path), LOG_STAMP)
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, iid)
        assert ">07:05:00 failed: exit code 1" in screen_text(pilot)  # opens at the end
        await press(pilot, "e")
        assert log_of(app).current.text.startswith("mkdir: cannot create directory")
        assert ">mkdir: cannot create directory" in screen_text(pilot)
        await press(pilot, "n")  # n walks the error lines: the closing one comes next
        assert log_of(app).current.text.startswith("07:05:00 failed: exit code 1")


async def test_the_help_says_what_e_finds(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, instance_id(demo_backend, "dq_sales_volume"))
        await press(pilot, "question_mark")

        def said() -> str:  # the words inside the help box, its wrapped lines joined
            box = app.screen.query_one("#help").content_region
            rows = screen_text(pilot).splitlines()[box.y : box.bottom]
            return " ".join(" ".join(row[box.x : box.right] for row in rows).split())

        for _ in range(5):  # the keys of this screen, paged down to the e line
            if "the first line of error" in said():
                break
            await press(pilot, "pagedown")
        assert "e first error: the cause: the first line of error output" in said()
        assert "a non-zero exit), not the closing" in said()


async def test_brackets_switch_between_attempts(demo_backend):
    iid = instance_id(demo_backend, "ods_products_snapshot", date(2026, 11, 18))
    assert [a.number for a in demo_backend.attempts(iid)] == [1, 2]
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, iid)
        assert "Log · attempt 2/2" in screen_text(pilot)
        assert "wrote 80 products" in screen_text(pilot)
        await press(pilot, "left_square_bracket")
        shown = screen_text(pilot)
        assert "Log · attempt 1/2" in shown
        assert "att 1 ✗ FAILURE · scheduler" in shown
        assert "ERROR: read timed out after 30s" in shown
        await press(pilot, "e")
        assert "ERROR: read timed out" in log_of(app).current.text
        await press(pilot, "right_square_bracket")
        assert "Log · attempt 2/2" in screen_text(pilot)
        assert "exit code 0" in log_of(app).current.text
        # `a` lists every attempt and the parameters with their expressions
        await press(pilot, "a")
        shown = screen_text(pilot)
        assert "▶ att 2 ✓ SUCCESS · auto rerun 1/2" in shown
        assert "bizdate = $bizdate → 20261118" in shown


async def test_search_finds_a_line_and_esc_leaves_the_search_before_going_back(
    demo_backend, monkeypatch
):
    monkeypatch.delenv("TMUX", raising=False)  # the copy inside tmux: the next test
    iid = instance_id(demo_backend, "dq_sales_volume")
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, iid)
        await press(pilot, "g")  # the start of the log
        await press(pilot, "slash", *"week_ago", "enter")
        view = log_of(app)
        assert "week_ago=20261112" in view.current.text
        assert view.has_focus
        await press(pilot, "n")  # no further match: stays, says so
        assert "week_ago=20261112" in view.current.text
        await press(pilot, "slash", "x")
        await press(pilot, "escape")  # leaves the search input only
        assert isinstance(app.screen, InstanceScreen) and view.has_focus
        await press(pilot, "y")
        assert app.clipboard == view.current.text
        await press(pilot, "o")  # no terminal to hand over in a test: it says so, stays
        assert isinstance(app.screen, InstanceScreen)
        await press(pilot, "escape")
        assert not isinstance(app.screen, InstanceScreen)


async def test_y_inside_tmux_copies_through_tmux_and_into_the_app(demo_backend, monkeypatch):
    """Inside tmux the copy goes out wrapped for tmux, and a paste in the console has it too
    (a full test run started in tmux once found the app's clipboard empty here)."""
    monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,4242,0")
    iid = instance_id(demo_backend, "dq_sales_volume")
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, iid)
        written: list[str] = []
        monkeypatch.setattr(app._driver, "write", written.append)
        await press(pilot, "y")
        line = log_of(app).current.text
        assert app.clipboard == line
        assert written == [osc52(line, tmux=True)]
        assert "copied the log line" in [n.message for n in app._notifications]


async def test_rerun_confirms_and_resets_the_instance(demo_backend):
    iid = instance_id(demo_backend, "dq_sales_volume")
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, iid)
        await press(pilot, "r")
        assert isinstance(app.screen, ConfirmScreen)
        assert f"dq_sales_volume 11-20 00:50 (FAILURE) #{iid}" in screen_text(pilot)
        await press(pilot, "y")
        assert demo_backend.get_instance(iid).status is Status.NOT_RUN
        assert isinstance(app.screen, InstanceScreen)
        assert "○ NOT_RUN" in screen_text(pilot)


async def test_rerun_downstream_lists_the_descendants_and_enter_cancels(demo_backend):
    iid = instance_id(demo_backend, "dq_sales_volume")
    below = [r.instance.id for r in demo_backend.relatives(iid, "down", 5)]
    before = {i: demo_backend.get_instance(i).status for i in [iid, *below]}
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, iid)
        await press(pilot, "R")
        assert isinstance(app.screen, ConfirmScreen)
        assert "↓ sales_daily" in "\n".join(app.screen.targets)
        assert f"and {len(below)} downstream instances" in screen_text(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, InstanceScreen)
        assert {i: demo_backend.get_instance(i).status for i in before} == before


async def test_the_tree_opens_level_by_level_and_enter_opens_a_relative(demo_backend):
    iid = instance_id(demo_backend, "dq_sales_volume")
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, iid)
        await press(pilot, "tab")
        tree = app.screen.query_one("#relatives")
        assert tree.has_focus
        for _ in range(6):
            if "sales_daily" in str(tree.cursor_node.label):
                break
            await press(pilot, "j")
        assert "sales_daily" in str(tree.cursor_node.label)
        assert "dws_sales_weekly" not in screen_text(pilot)
        await press(pilot, "l")  # one level further down
        assert "dws_sales_weekly" in screen_text(pilot)
        await press(pilot, "h")
        assert "dws_sales_weekly" not in screen_text(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, InstanceScreen) and app.screen.instance_id != iid
        assert "sales_daily · #" in screen_text(pilot)
        await press(pilot, "escape")
        assert app.screen.instance_id == iid


async def test_follow_shows_what_a_running_attempt_appends(demo_backend):
    """A running attempt (set in the store as the engine would) is followed as it writes."""
    iid = instance_id(demo_backend, "dq_sales_volume")
    attempt = demo_backend.attempts(iid)[-1]
    with demo_backend.db.begin() as conn:
        conn.execute(text("UPDATE instances SET status='RUNNING' WHERE id=:i"), {"i": iid})
        conn.execute(
            text("UPDATE attempts SET status='RUNNING', finished_at=NULL WHERE instance_id=:i"),
            {"i": iid},
        )
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, iid)
        view = log_of(app)
        assert view.following and "following" in screen_text(pilot)
        with open(attempt.log_path, "a", encoding="utf-8") as log:
            log.write("07:06:00 still scanning partitions\n")
        await wait_for(pilot, lambda: "still scanning partitions" in view.current.text)
        await press(pilot, "F")  # off
        assert not view.following
        await press(pilot, "F")  # on again
        assert view.following
        await press(pilot, "k")  # reading back up stops pulling the view down
        assert not view.following


async def test_a_100_mb_log_opens_at_its_end_at_once_with_a_bounded_window(demo_backend):
    """Two page reads open it (measured 0.3-0.5 s here); the window never holds all of it."""
    iid = instance_id(demo_backend, "dq_sales_volume")
    path = Path(demo_backend.attempts(iid)[-1].log_path)
    block = "".join(
        f"07:05:00 INFO scanned partition {n:06d} of sales_raw, 1024 rows\n" for n in range(16384)
    ).encode()
    with path.open("wb") as log:
        log.write(b"07:05:00 start\n07:05:00 ERROR: first trouble\n")
        while log.tell() < 100 * 1024 * 1024:
            log.write(block)
        log.write(b"07:05:00 the very last line\n")
    size = f"{path.stat().st_size / 1e6:.1f} MB"
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_instance(iid)
        took = await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, InstanceScreen)
                and "the very last line" in screen_text(pilot)
            ),
            seconds=3.0,
        )
        assert took < 3.0
        await settle(pilot)
        view = log_of(app)
        assert 0 < len(view.lines) <= MAX_LINES
        assert f"Log · attempt 1/1 · end of {size}" in screen_text(pilot)
        # a smaller window, so a few key presses page through several reads
        view.page_bytes, view.max_lines = 4 * 1024, 150
        await press(pilot, "g")  # the start: one page read from offset 0
        assert view.top_offset == 0 and "07:05:00 start" in view.current.text
        for _ in range(4):  # later pages come in, the first ones go
            await press(pilot, *["pagedown"] * 5)
            assert len(view.lines) <= 150
        assert view.top_offset > 0
        deepest = view.end_offset
        for _ in range(2):  # and back up: earlier pages come in again, the later ones go
            await press(pilot, *["pageup"] * 5)
            assert len(view.lines) <= 150
        assert view.end_offset < deepest
        assert "scanned partition" in view.current.text
        assert "% of " + size in screen_text(pilot)
        await press(pilot, "e")  # the first error is at the start: scanned from offset 0
        assert "ERROR: first trouble" in view.current.text
        assert "ERROR: first trouble" in screen_text(pilot)
        await press(pilot, "G")
        assert "the very last line" in view.current.text
        assert len(view.lines) <= 300


async def test_a_dry_run_with_no_attempt_shows_why_nothing_ran(demo_backend):
    """A weekly node on an off day succeeded as a dry run with no attempt: the log pane
    shows the log of no attempt (the backend's, read with no attempt named)."""
    iid = instance_id(demo_backend, "dws_sales_weekly", date(2026, 11, 18))  # a Thursday run
    info = demo_backend.get_instance(iid)
    assert info.status is Status.SUCCESS and info.dry_run and demo_backend.attempts(iid) == []
    first = demo_backend.read_log(iid).text.splitlines()[0]
    assert first.startswith("dry-run: dws_sales_weekly runs weekly")
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, iid)
        shown = screen_text(pilot)
        assert "no attempt yet: the log appears when it starts" not in shown
        assert "Log · no attempt" in shown
        assert first[:40] in shown  # the pane is narrower than the line
        view = log_of(app)
        assert [line.text for line in view.lines] == demo_backend.read_log(iid).text.splitlines()
        app.screen.refresh_now()  # a refresh keeps the log where it is
        await settle(pilot)
        assert view.lines and view.lines[0].text == first
        await press(pilot, "r", "y")  # rerun: no longer settled, so no log until it runs
        assert demo_backend.get_instance(iid).status is Status.NOT_RUN
        await settle(pilot)
        shown = screen_text(pilot)
        assert "no attempt yet: the log appears when it starts" in shown
        assert first[:40] not in shown and not view.lines


async def test_an_instance_that_has_not_run_still_says_so(demo_backend):
    iid = instance_id(demo_backend, "sales_daily")
    assert demo_backend.get_instance(iid).status is Status.NOT_RUN
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, iid)
        shown = screen_text(pilot)
        assert "no attempt yet: the log appears when it starts" in shown
        assert "Log · no attempt" not in shown
