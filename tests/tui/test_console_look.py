"""The console at 80x24 as an on-call engineer reads it without colour, in ASCII, after
drilling in and acting: which panel has the focus, where a number key leads, what a toast
hides, and which facts keep their width when a line is short."""

from __future__ import annotations

from datetime import date
from importlib import import_module
from pathlib import Path

from rich.segment import Segment
from sqlalchemy import select
from textual.pilot import Pilot

from opscenter.domain.model import Status
from opscenter.domain.records import InstanceFilter
from opscenter.store.models import WorkspaceRow
from opscenter.tui import format as fmt
from opscenter.tui.app import OpsApp
from tests.harness import MakeWorld, at
from tests.tui.helpers import WorldSays, press, screen_text, settle, until

BIZDATE = date(2026, 11, 19)
SCREENS = ("dashboard", "nodes", "instances", "backfills", "baselines", "alerts", "audit")
SCREENS += ("instance", "help", "backfill_form", "confirm", "prompt")


def lines(pilot: Pilot) -> list[str]:
    return screen_text(pilot).splitlines()


def reversed_texts(pilot: Pilot) -> str:
    """What is drawn in reverse video, the one mark that survives NO_COLOR and ASCII."""
    strips = pilot.app.screen._compositor.render_strips()
    shown: list[Segment] = [seg for strip in strips for seg in strip if seg.style]
    return "".join(seg.text for seg in shown if seg.style.reverse)


def marked_in(pilot: Pilot) -> str:
    """The title of the boxed panel whose row carries the cursor's mark (the only one)."""
    shown = lines(pilot)
    row = next(y for y, line in enumerate(shown) if "▸" in line)
    column = shown[row].index("▸") - 1  # the box's left edge
    top = next(y for y in range(row, -1, -1) if shown[y][column] in "┏╭")
    return shown[top][column:].split("─")[0].split("━")[1].strip()


def failed_instance(backend) -> int:
    return (
        backend.list_instances(InstanceFilter(node="dq_sales_volume", bizdate=BIZDATE)).items[0].id
    )


async def test_without_colour_the_focused_panel_and_row_are_marked_and_named(
    demo_backend, monkeypatch
):
    monkeypatch.setenv("NO_COLOR", "1")
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert lines(pilot)[-1].startswith(" [Needs action] ⏎ open")
        assert "┏━ Needs action" in text and "╭─ Top errors" in text  # a heavier box
        assert "┃▸ ✗ dq_sales_volume 00:50" in text  # the row enter opens
        assert text.count("▸") == 1  # one cursor on the screen
        assert marked_in(pilot) == "Needs action · 1"
        assert "Needs action · 1" in reversed_texts(pilot)
        await press(pilot, "tab")  # the panel enter now acts in says so
        text = screen_text(pilot)
        assert lines(pilot)[-1].startswith(" [Top errors] ⏎ open")
        assert "╭─ Needs action" in text and "┏━ Top errors" in text
        assert text.count("▸") == 1 and marked_in(pilot).startswith("Top errors")
        assert "Top errors" in reversed_texts(pilot)
        await press(pilot, "2")  # a list screen draws without colour too
        assert "> adhoc_export_orders" in screen_text(pilot)


async def test_a_number_key_goes_to_the_top_of_its_screen_from_a_detail(demo_backend):
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "enter")  # the failed instance, from Needs action
        assert type(app.screen).__name__ == "InstanceScreen"
        await press(pilot, "1")
        assert type(app.screen).__name__ == "DashboardScreen"
        assert "[1 Dash]" in lines(pilot)[1]
        await press(pilot, "3", "enter")  # an instance opened over the Instances list
        assert type(app.screen).__name__ == "InstanceScreen"
        await press(pilot, "1", "3")
        assert type(app.screen).__name__ == "InstancesScreen"
        assert len(app.screen_stack) == 1


async def test_in_ascii_every_screen_draws_ascii_only(demo_backend, monkeypatch):
    """Every screen, detail, modal and toast, including Textual's own borders and ellipses.

    The screens are imported first, so the glyphs they keep stay Unicode for the other
    tests: here the one filter at the end of drawing makes them ASCII."""
    for module in SCREENS:
        import_module(f"opscenter.tui.screens.{module}")
    monkeypatch.setattr(fmt, "UNICODE", False)
    app = OpsApp(demo_backend, start="dashboard")
    failed = failed_instance(demo_backend)

    def ascii_only(what: str) -> None:
        text = screen_text(pilot)
        assert text.isascii(), f"{what}: {sorted({c for c in text if not c.isascii()})}\n{text}"

    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        ascii_only("dashboard")
        text = screen_text(pilot)
        assert "x FAILURE" in text and "+ SUCCESS" in text and "- DRY-RUN" in text
        assert "+= Needs action | 1 ==" in text  # the focused panel, in ASCII
        assert lines(pilot)[-1].startswith(" [Needs action] enter open")
        for keys in (("R",), ("question_mark",), ("colon",), ("ctrl+p",)):
            await press(pilot, *keys)
            ascii_only(keys[0])
            await press(pilot, "escape")
        for key in "234567":
            await press(pilot, key)
            ascii_only(f"screen {key}")
        await press(pilot, "2", "B")  # the backfill form
        ascii_only("backfill form")
        await press(pilot, "escape")
        for opening in (
            lambda: app.open_instance(failed),
            lambda: app.open_node("sales_daily"),
            lambda: app.open_baseline("exec_dashboard"),
        ):
            opening()
            await settle(pilot)
            ascii_only(type(app.screen).__name__)
            await press(pilot, "tab")
            ascii_only(f"{type(app.screen).__name__}, next pane")
        app.notify("reset → rerun ✓", title="rerun")
        await until(pilot, lambda: "reset > rerun +" in screen_text(pilot), "the toast")
        ascii_only("toast")


async def test_a_toast_hides_no_row_of_the_list_it_follows(demo_backend):
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, *"jjjjjjjjjjjjjjjj")  # a row near the bottom of the screen
        name = app.screen.table.current.name
        await press(pilot, "f", "y")
        await until(pilot, lambda: app.screen.table.current.frozen, "the freeze")
        row = next(line for line in lines(pilot) if f"> {name} " in line)
        assert row.endswith("❄ frozen")  # the MODE column, in view with the toast
        said = list(app._notifications)[-1]  # the toast is drawn over the header and the tabs
        assert lines(pilot)[0].strip() == said.title
        assert lines(pilot)[1].strip() in said.message


async def test_an_attached_consoles_header_keeps_the_schedulers_role(demo_backend):
    world = WorldSays(demo_backend, speed=600.0, scheduler="0b1c2d3e4f5a:4242:a1b2c3")
    async with OpsApp(world, start="instances").run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        assert lines(pilot)[0].endswith("sim×600 · sched ● attached to 0b1c2d3e4f5a:4242:a1b2c3")
    async with OpsApp(world, start="instances").run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = lines(pilot)[0]  # the host goes, and "bizdate" is said "biz", before the role
        assert header == " shop · local · biz 20261119 · 09:30 CST sim×600 · sched ● attached"


LONG_NAMES = """
nodes:
  - {name: ods_payments_hourly_di, type: shell,
     code: 'while [ ! -f "$OPSCENTER_LANDING/go" ]; do sleep 0.02; done',
     trigger: {cron: "00 00 02 * * ?"}}
  - {name: landing, type: shell, code: "mkdir /nonexistent/landing/orders",
     trigger: {cron: "00 00 02 * * ?"}}
"""


async def test_at_80x24_names_and_causes_keep_their_width(world: MakeWorld) -> None:
    w = world(LONG_NAMES).start()
    w.clock.set(at(2))
    w.wait_for(lambda: w.status("ods_payments_hourly_di") is Status.RUNNING)
    w.clock.advance(90)
    with w.store.connect() as conn:
        (Path(conn.scalar(select(WorkspaceRow.landing))) / "go").touch()
    w.idle()
    app = OpsApp(w.backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        left = [line[:37] for line in lines(pilot)]
        top = next(at for at, line in enumerate(left) if "Needs action" in line)
        end = next(at for at in range(top, len(left)) if left[at][0] in "┗╰")
        needs = " ".join(line.strip("┃│ ") for line in left[top + 1 : end])
        cause = "exit 1: mkdir: cannot create directory"  # wrapped under the failure, whole
        assert "✗ landing 02:00 att 1/1" in needs and cause in needs
        assert "/nonexistent/landing/orders" in needs.replace(" ", "")
        slowest = next(line for line in lines(pilot) if "ods_payments_hourly_di" in line)
        assert slowest.rstrip(" │").endswith("✓ ods_payments_hourly_di 1m30s 1.0×")
        await press(pilot, "3")
        listed = next(line for line in lines(pilot) if "ods_payments" in line)
        assert "ods_payments_hourly_di" in listed and "…" not in listed
