"""Baselines: the Gantt drawn on its own, and the screens driven against the demo's real store."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import ManualClock
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import BaselineStatus, InstanceInfo, KeyPathStep
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.baselines import BaselineScreen, slack
from opscenter.tui.screens.confirm import ConfirmScreen
from opscenter.tui.widgets.gantt import gantt
from opscenter.tui.widgets.rowlist import RowList
from tests.tui.conftest import FROZEN_AT
from tests.tui.helpers import press, screen_text, settle

UTC8 = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 19, 16, 0)  # 00:00 in Shanghai, naive UTC as the store keeps it


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def step(
    node: str,
    status: Status,
    est: tuple[float, float],
    ran: tuple[float, float | None] | None = None,
) -> KeyPathStep:
    started, finished = ran if ran else (None, None)
    info = InstanceInfo(
        id=abs(hash(node)) % 1000,
        node_id=1,
        node=node,
        node_type="sql",
        kind=InstanceKind.PERIODIC,
        backfill_id=None,
        bizdate=date(2026, 11, 19),
        cyctime=datetime(2026, 11, 20),
        cycle=1,
        status=status,
        dry_run=False,
        dry_run_reason="",
        run_number=1 if started is not None else 0,
        max_attempts=1,
        priority=1,
        resource_group="default",
        owner="alice",
        set_success=False,
        started_at=at(started) if started is not None else None,
        finished_at=at(finished) if finished is not None else None,
        retry_at=None,
    )
    return KeyPathStep(info, at(est[0]), at(est[1]))


# a path from 00:00 to 10:00 local: done 00-02, running 02-now(05), then 2 more predicted
PATH = [
    step("ods_orders", Status.SUCCESS, (0, 2), (0, 2)),
    step("dws_customer_360", Status.RUNNING, (2, 7), (2, None)),
    step("ads_exec_dash", Status.NOT_RUN, (7, 8)),
]
NOW = at(5)


def draw(width: int = 60, unicode: bool = True, steps=PATH):
    return gantt(
        steps, now=NOW, committed=at(10), alert=at(9), width=width, zone=UTC8, unicode=unicode
    )


def track(row: str, name_width: int) -> str:
    return row[name_width + 3 :]


def test_gantt_fills_the_width_with_one_row_per_step():
    drawn = draw(60)
    assert len(drawn.rows) == 3 and len(drawn.lines) == 5
    assert all(len(line) <= 60 for line in drawn.lines)
    assert [r.split()[0] for r in drawn.rows] == ["ods_orders", "dws_customer_360", "ads_exec_dash"]
    assert drawn.rows[1].split()[1] == "●"  # the status glyph beside the name


def test_gantt_draws_actual_solid_and_predicted_shaded_in_time_order():
    drawn = draw(60)
    width = 60 - drawn.name_width - 3  # 10 hours over this many cells
    done, running, ahead = (track(r, drawn.name_width) for r in drawn.rows)
    assert "░" not in done and done.index("█") == 0  # finished: only what happened
    # running: solid from its start to now, shaded from now to its predicted finish
    solid = [i for i, c in enumerate(running) if c == "█"]
    shaded = [i for i, c in enumerate(running) if c == "░"]
    assert solid and shaded and max(solid) < min(shaded)
    assert abs(min(solid) - 2 / 10 * width) <= 1 and abs(max(shaded) - 7 / 10 * width) <= 1
    # not run: only predicted, after the running step
    assert "█" not in ahead and ahead.index("░") >= max(shaded)


def test_gantt_marks_the_committed_and_alert_times_and_names_them():
    drawn = draw(60)
    width = 60 - drawn.name_width - 3
    for row in drawn.rows:
        line = track(row, drawn.name_width)
        assert line[min(width - 1, int(10 / 10 * width))] == "┃"  # committed 10:00, the end
        assert line[int(9 / 10 * width)] == "┊"  # alert 09:00
    assert "┃ committed 10:00" in drawn.legend and "┊ alert 09:00" in drawn.legend
    assert "█ actual" in drawn.legend and "░ predicted" in drawn.legend


def test_gantt_axis_labels_wall_clock_hours_where_they_fall():
    drawn = draw(60)
    width = 60 - drawn.name_width - 3
    axis = drawn.axis[drawn.name_width + 3 :]
    labels = dict((m.group(), m.start()) for m in re.finditer(r"\d\d:\d\d", axis))
    assert "00:00" in labels and labels["00:00"] == 0
    assert len(labels) >= 3
    for label, col in labels.items():
        hour = int(label[:2])
        assert abs(col - hour / 10 * width) <= 1


def test_gantt_in_ascii_keeps_the_meaning():
    drawn = draw(60, unicode=False)
    assert all(line.isascii() for line in drawn.lines)
    running = track(drawn.rows[1], drawn.name_width)
    assert "#" in running and "." in running and "|" in running and ":" in running
    assert drawn.rows[0].split()[1] == "+"
    assert drawn.legend == "# actual  . predicted  | committed 10:00  : alert 09:00"


def test_gantt_gives_an_instant_a_cell_and_stays_in_a_narrow_frame():
    instant = [step("a_very_long_node_name_indeed", Status.SUCCESS, (3, 3), (3, 3))]
    drawn = gantt(instant, now=NOW, committed=at(3), alert=None, width=30, zone=UTC8)
    assert all(len(line) <= 30 for line in drawn.lines)
    assert "█" in drawn.rows[0] and "…" in drawn.rows[0]
    assert "alert" not in drawn.legend


def test_gantt_shows_a_failed_step_where_it_failed_and_its_rerun_predicted():
    failed = [step("dq_check", Status.FAILURE, (5, 6), (1, 1))]
    drawn = gantt(failed, now=NOW, committed=at(10), alert=at(9), width=60, zone=UTC8)
    line = track(drawn.rows[0], drawn.name_width)
    assert line.index("█") < line.index("░")


# -- the screens ----------------------------------------------------------------------------


def has(text: str, pattern: str) -> bool:
    return re.search(r"\s+".join(map(re.escape, pattern.split())), text) is not None


async def test_the_list_shows_both_baselines_with_status_slack_and_key_instance(demo_backend):
    app = OpsApp(demo_backend, start="baselines")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert "bizdate 2026-11-19" in text and "1/2" in text
        assert "STATUS" in text and "SLACK" in text and "KEY INSTANCE" in text
        # blocked by dq_sales_volume (failed, no rerun left): no guessed finish, at risk
        assert has(text, "✗ OVER exec_dashboard 8 - 09:00 - ✗ dq_sales_volume")
        assert has(text, "! WARNING finance_close 5 - 10:30 - ✗ dq_sales_volume")
        assert "blocked by #76 dq_sales_volume ✗ FAILURE" in text  # the cursor row's facts
        await press(pilot, "less_than_sign")
        text = screen_text(pilot)
        assert has(text, "✓ SAFE exec_dashboard 8 07:10 09:00 1h50m early -")


async def test_enter_opens_the_key_path_as_a_gantt_with_its_events(demo_backend):
    app = OpsApp(demo_backend, start="baselines")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, BaselineScreen)
        text = screen_text(pilot)
        assert "exec_dashboard · commit 09:00 · margin 30m · 20261119 · prio 8 · owner bob" in text
        assert has(text, "✗ OVER blocked by #76 dq_sales_volume ✗ FAILURE · if rerun now 09:30")
        path = ["shop_root", "ods_start", "ods_orders_hourly", "sales_raw", "dq_sales_volume"]
        path += ["sales_daily", "ads_exec_dashboard"]
        rows = [  # inside the panel's border, heavy while it has the focus
            line
            for line in text.splitlines()
            if any(f"│ {n} " in line or f"┃ {n} " in line for n in path)
        ]
        assert [line.split()[1] for line in rows] == path
        assert has(text, "dq_sales_volume ✗")
        assert "┃ committed 09:00  ┊ alert 08:30" in text
        assert "█" in text and "░" in text
        assert has(text, "#1 ERROR NEW 07:05 dq_sales_volume")
        for line in text.splitlines():
            assert len(line) <= 80


class Finished:
    """The demo's backend, its baselines on 2026-11-19 finished at the given wall times."""

    def __init__(self, backend, **finished: datetime) -> None:  # noqa: ANN001 - a Backend
        self.backend = backend
        self.finished = finished

    def _done(self, b: BaselineStatus) -> BaselineStatus:
        if b.name not in self.finished:
            return b
        at_utc = self.finished[b.name].replace(tzinfo=UTC8).astimezone(ZoneInfo("UTC"))
        finish = at_utc.replace(tzinfo=None)
        status = "OVER" if finish > b.committed_at else "SAFE"
        return replace(
            b, finished=True, predicted_finish=finish, status=status, key_instance=None,
            blocked_by=(), if_rerun_now=None,
        )  # fmt: skip

    def list_baselines(self, bizdate: date) -> list[BaselineStatus]:
        return [self._done(b) for b in self.backend.list_baselines(bizdate)]

    def get_baseline(self, name: str, bizdate: date, cycle: int = 1):  # noqa: ANN201
        detail = self.backend.get_baseline(name, bizdate, cycle)
        return replace(detail, status=self._done(detail.status))

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.backend, name)


async def test_a_finished_baseline_says_how_long_before_or_after_its_commitment(demo_backend):
    backend = Finished(
        demo_backend,
        exec_dashboard=datetime(2026, 11, 20, 9, 1, 30),  # committed 09:00: late
        finance_close=datetime(2026, 11, 20, 10, 10),  # committed 10:30: early
    )
    app = OpsApp(backend, start="baselines")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert has(text, "✗ OVER exec_dashboard 8 09:01 09:00 1m late -")
        assert has(text, "✓ SAFE finance_close 5 10:10 10:30 20m early -")
        assert "-2m" not in text  # floored, it disagreed with the 09:01 beside it
        assert "finished 09:01, 1m after the commitment · committed 09:00 · alert 08:30" in text
        assert "protects 36 instances of 1 node: ads_exec_dashboard" in text  # not "1 nodes"
        await press(pilot, "down")
        assert "finished 10:10, 20m before the commitment · committed 10:30" in screen_text(pilot)
        await press(pilot, "up", "enter")
        assert isinstance(app.screen, BaselineScreen)
        text = screen_text(pilot)
        state = text.splitlines()[3]  # the line under the head, whole at 80 columns
        assert state.strip() == "✗ OVER  finished 09:01, 1m after the commitment"


async def test_the_baseline_head_gives_its_facts_the_width_at_80_columns(demo_backend):
    app = OpsApp(demo_backend, start="baselines")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        head = screen_text(pilot).splitlines()[2]
        assert head.strip() == (
            "exec_dashboard · commit 09:00 · margin 30m · 20261119 · prio 8 · owner bob"
        )
    app = OpsApp(demo_backend, start="baselines")
    async with app.run_test(size=(120, 24)) as pilot:  # room for every label
        await settle(pilot)
        await press(pilot, "enter")
        wide = "exec_dashboard · prio 8 · committed 09:00 · margin 30m · bizdate 20261119"
        assert f"{wide} · owner bob" in screen_text(pilot)


async def test_enter_on_a_key_path_row_opens_that_instance(demo_backend):
    app = OpsApp(demo_backend, start="baselines")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "G", "k", "k")  # ads_exec_dashboard, sales_daily, dq_...
        key = app.screen.query_one("#keypath", RowList).current
        assert key.instance.node == "dq_sales_volume"
        await press(pilot, "enter")
        assert type(app.screen).__name__ == "InstanceScreen"
        assert app.screen.instance_id == key.instance.id


async def test_an_event_is_taken_on_then_recovered_and_a_closed_one_refused(demo_backend):
    def status_of(event_id: int) -> str:
        return next(e.status for e in demo_backend.list_events() if e.id == event_id)

    app = OpsApp(demo_backend, start="baselines")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "tab")
        event = app.screen.query_one("#events", RowList).current
        assert app.screen.focused.id == "events" and event.baseline == "exec_dashboard"
        await press(pilot, "m")
        assert isinstance(app.screen, ConfirmScreen)
        assert "from NEW to FIXING" in app.screen.summary
        assert app.screen.targets == [f"#{event.id} ERROR dq_sales_volume: {event.message}"]
        await press(pilot, "y")
        assert status_of(event.id) == "FIXING"
        assert has(screen_text(pilot), f"#{event.id} ERROR FIXING")
        await press(pilot, "v", "y")
        assert status_of(event.id) == "RECOVER"
        assert has(
            screen_text(pilot), f"#{event.id} ERROR RECOVER 07:05 dq_sales_volume (alice 09:30)"
        )
        await press(pilot, "i", "y")  # a recovered event is closed: the backend says why not
        assert status_of(event.id) == "RECOVER"
        notes = [n.message for n in app._notifications]
        closed = "already recovered, it is finished and nothing more can be done to it"
        assert f"event #{event.id} is RECOVER: {closed}" in notes


async def test_a_date_without_the_baseline_says_so_and_is_not_stale(demo_backend):
    app = OpsApp(demo_backend, start="baselines")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "greater_than_sign", "greater_than_sign")
        text = screen_text(pilot)
        assert "no baseline 'exec_dashboard' for business date 2026-11-21" in text
        assert "stale" not in text and app.stale_since is None


async def test_read_only_hides_event_handling_and_says_why(demo_backend):
    backend = LocalBackend(
        demo_backend.db, "shop", ManualClock(FROZEN_AT), user="bob", readonly=True
    )
    app = OpsApp(backend, start="baselines")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "tab")
        text = screen_text(pilot)
        assert "fixing" not in text.splitlines()[-1] and "Events · m" not in text
        await press(pilot, "m")
        assert any("read-only" in n.message for n in app._notifications)
        assert all(e.status == "NEW" for e in backend.list_events())


def test_slack_reads_in_minutes_then_hours():
    def with_finish(hours: float) -> BaselineStatus:
        return BaselineStatus(
            "b", "alice", 1, "DAILY", date(2026, 11, 19), 1, "SAFE", False,
            at(9), at(8.5), at(hours), None, 0, (),
        )  # fmt: skip

    assert slack(with_finish(9.3)) == "-18m"
    assert slack(with_finish(7 + 40 / 60)) == "+1h20m"
    assert slack(with_finish(19.25)) == "-10h15m"
    assert slack(replace(with_finish(9), predicted_finish=None)) == "-"
