"""The console as a whole: header, read-only, help, commands, business date, staleness, themes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import ManualClock
from opscenter.domain.model import Status
from opscenter.tui import theming
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.confirm import ConfirmScreen
from opscenter.tui.screens.prompt import PromptScreen
from opscenter.tui.widgets.chrome import WorldLine
from opscenter.tui.widgets.table import VirtualTable
from tests.tui.conftest import FROZEN_AT
from tests.tui.helpers import WorldSays, press, screen_text, settle


def readonly_twin(backend: LocalBackend) -> LocalBackend:
    """A read-only console's backend, as the console makes it (its source is "tui")."""
    return LocalBackend(
        backend.db, "shop", ManualClock(FROZEN_AT), user="bob", readonly=True, source="tui"
    )


async def test_the_header_says_which_world_this_is(demo_backend):
    app = OpsApp(WorldSays(demo_backend, speed=120.0), start="instances")
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        first = screen_text(pilot).splitlines()[0]
        assert first == (
            " opscenter · shop · local · bizdate 2026-11-19 · 09:30:00 CST sim×120 · sched ○ none"
        )
        assert "[3 Instances]" in screen_text(pilot).splitlines()[1]


async def test_the_header_fits_80_columns_and_gets_terser_to_fit(demo_backend):
    """Tersest case: read-only, simulated, someone else's scheduler holds the lease."""
    for world, shown in (
        (
            WorldSays(demo_backend, speed=120.0),
            " opscenter · shop · local · bizdate 20261119 · 09:30 CST sim×120 · sched ○ none",
        ),
        (  # real time: the clock keeps its seconds
            demo_backend,
            " opscenter · shop · local · bizdate 2026-11-19 · 09:30:00 CST · sched ○ none",
        ),
        (
            WorldSays(readonly_twin(demo_backend), speed=600.0, scheduler="ops-1:4242:a1b2c3"),
            # the role stays ("attached"); the holder's host goes first when it cannot fit
            " shop · local · READ-ONLY · biz 20261119 · 09:30 CST sim×600 · sched ● attached",
        ),
    ):
        app = OpsApp(world, start="instances")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert screen_text(pilot).splitlines()[0] == shown
            assert len(shown) <= 80


async def test_a_simulated_world_whose_scheduler_stopped_says_since_when(demo_backend):
    """Its time stands still: the header says so instead of a clock that seems to tick."""
    stopped = FROZEN_AT - timedelta(minutes=27)  # 09:03 in Shanghai
    world = WorldSays(demo_backend, speed=600.0, stopped_at=stopped)
    app = OpsApp(world, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = screen_text(pilot).splitlines()[0]
        assert first == (
            " opscenter · shop · local · bizdate 2026-11-19 · scheduler stopped at 09:03 CST"
        )
        world.info = {"speed": 600.0}  # a scheduler took the lease again: the clock is back
        app._reload_info()
        await settle(pilot)
        app.screen.query_one(WorldLine).update_line()
        assert "09:30 CST sim×600 · sched ○ none" in screen_text(pilot).splitlines()[0]


async def test_read_only_hides_actions_and_says_why_a_key_does_nothing(demo_backend):
    backend = readonly_twin(demo_backend)
    app = OpsApp(backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert "READ-ONLY" in text.splitlines()[0]
        hints = text.splitlines()[-1]
        assert "rerun" not in hints and "freeze" not in hints and "? help" in hints
        await press(pilot, "t", "r")  # the failed one
        current = app.screen.query_one(VirtualTable).current
        assert current.node == "dq_sales_volume"
        messages = [n.message for n in app._notifications]
        assert any("read-only" in m and "Rerun" in m for m in messages), messages
        assert backend.get_instance(current.id).status is Status.FAILURE
        await press(pilot, "question_mark")
        assert "rerun (unavailable: read-only)" in screen_text(pilot)


async def test_every_refusal_of_a_read_only_console_is_audited_once(demo_backend):
    """The console refuses these itself (no action method is called), and audits each one as
    the backend audits its own: who, the action, its targets, the words the operator read."""
    backend = readonly_twin(demo_backend)
    app = OpsApp(backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "t")  # the failed one
        instance = app.screen.query_one(VirtualTable).current
        await press(pilot, "r")
        await press(pilot, "s")
        await press(pilot, "2", "slash", *"sales_daily", "enter")
        node = app.screen.query_one(VirtualTable).current
        assert node.name == "sales_daily"
        await press(pilot, "D")
        await press(pilot, "B")
        assert not isinstance(app.screen, ConfirmScreen)
        said = [n.message for n in app._notifications if n.title == "refused"]
    read_only = "is not available: opscenter runs read-only (--readonly)"
    wanted = [
        ("rerun", [instance.id], f"Rerun {read_only}"),
        ("set success", [instance.id], f"Set success {read_only}"),
        ("undeploy", ["sales_daily"], f"Undeploy node {read_only}"),
        ("backfill", ["sales_daily"], f"Backfill {read_only}"),
    ]
    entries = [e for e in backend.audit_log() if e.user == "bob"][::-1]  # oldest first
    assert [(e.action, e.targets, e.detail) for e in entries] == wanted
    assert {(e.outcome, e.source, e.at) for e in entries} == {
        ("refused", "tui", FROZEN_AT.replace(tzinfo=None))  # the world's time, naive UTC
    }
    assert said == [words for _, _, words in wanted]  # what the operator read, word for word
    assert backend.get_instance(instance.id).status is Status.FAILURE
    assert backend.get_node("sales_daily").state == "deployed"


async def test_nothing_under_the_cursor_is_a_refusal_too(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "slash", *"no_such_node", "enter")
        assert app.screen.query_one(VirtualTable).current is None
        await press(pilot, "x")
        assert not isinstance(app.screen, ConfirmScreen)
    [entry] = [e for e in demo_backend.audit_log() if e.user == "alice"]
    assert (entry.action, entry.targets, entry.outcome, entry.detail) == (
        "stop",
        [],
        "refused",
        "no instance under the cursor",
    )


async def test_help_lists_the_keys_of_the_screen_from_its_bindings(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "question_mark")
        text = screen_text(pilot)
        for words in ("rerun+down", "set-success", "page down", "search"):
            assert words in text
        await press(pilot, "end")  # the help scrolls with the keyboard
        assert "business date" in screen_text(pilot)
        await press(pilot, "escape")
        assert "Keys" not in screen_text(pilot)


async def test_number_keys_and_commands_switch_screens(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "7")
        assert app.current_mode == "audit"
        await press(pilot, "colon")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"instances")
        await press(pilot, "enter")
        assert app.current_mode == "instances"
        await press(pilot, "colon", *"frobnicate", "enter")
        assert any("unknown command" in n.message for n in app._notifications)


async def test_the_business_date_moves_for_every_screen(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "less_than_sign")
        assert app.bizdate == date(2026, 11, 18)
        assert "bizdate 2026-11-18" in screen_text(pilot).splitlines()[0]
        rows = app.screen.query_one(VirtualTable).rows
        assert rows and all(r.bizdate == date(2026, 11, 18) for r in rows)
        await press(pilot, "b")
        await pilot.press(*"yesterday")
        await press(pilot, "enter")
        assert "is not a date" in screen_text(pilot)  # said in the prompt; nothing changed
        assert app.bizdate == date(2026, 11, 18)
        await press(pilot, "escape")
        await press(pilot, "b", "ctrl+u", *"any", "enter")
        assert app.bizdate is None
        assert app.screen.query_one(VirtualTable).total > 46


async def test_a_backend_that_stops_answering_shows_stale_and_keeps_the_view(demo_backend):
    app = OpsApp(demo_backend, start="instances", refresh_seconds=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        before = app.screen.query_one(VirtualTable).total
        database = Path(demo_backend.db.url.database)
        demo_backend.db.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)

        def gone():  # a world's clock read from the store goes with the store
            raise OSError("unable to open database file")

        demo_backend.now = gone
        app.screen.refresh_now()
        await settle(pilot)
        app.screen.query_one(WorldLine).update_line()
        text = screen_text(pilot)
        assert "09:30:00 CST · stale since 09:30:00 CST" in text.splitlines()[0]
        assert app.screen.query_one(VirtualTable).total == before  # the last view stays


async def test_every_shipped_theme_and_the_ansi_ones_render(demo_backend):
    for name in theming.theme_names():
        app = OpsApp(demo_backend, start="instances", theme=name)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.theme == name
            assert "✗ FAILURE" in screen_text(pilot)


def test_a_broken_user_theme_is_named_and_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    folder = tmp_path / "opscenter" / "themes"
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text("name: mine\nprimary: '#123456'\nbackground: '#000'\n")
    (folder / "bad.yaml").write_text("name: bad\nprimray: '#123456'\n")
    themes, problems = theming.available_themes()
    assert "mine" in [t.name for t in themes]
    assert len(problems) == 1
    assert "bad.yaml" in str(problems[0]) and "unknown field 'primray'" in str(problems[0])


async def test_past_midnight_the_business_date_follows_unless_one_was_chosen(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        demo_backend.clock.advance(timedelta(days=1))  # 2026-11-21 09:30 in Shanghai
        app.follow_the_day()
        await settle(pilot)
        assert app.bizdate == date(2026, 11, 20)
        assert "bizdate 2026-11-20" in screen_text(pilot).splitlines()[0]
        await press(pilot, "less_than_sign")  # the operator chooses: it stays
        demo_backend.clock.advance(timedelta(days=1))
        app.follow_the_day()
        assert app.bizdate == date(2026, 11, 19)


def test_a_user_theme_that_is_not_yaml_says_where_and_gives_a_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    folder = tmp_path / "opscenter" / "themes"
    folder.mkdir(parents=True)
    (folder / "broken.yaml").write_text("name: broken\n  primary: '#123456'\n")
    _themes, problems = theming.available_themes()
    [problem] = problems
    said = str(problem)
    assert "broken.yaml: line 2, column" in said and "not valid YAML" in said
    assert "\n" not in said and "hint: quote a value" in said


def test_a_user_theme_nested_too_deeply_is_named_and_skipped(tmp_path, monkeypatch):
    """A theme file is read like a workspace: 100,000 levels of nesting is a located
    problem and the theme is skipped, not a RecursionError that stops the console."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    folder = tmp_path / "opscenter" / "themes"
    folder.mkdir(parents=True)
    (folder / "deep.yaml").write_text("name: deep\nprimary: " + "[" * 100_000 + "]" * 100_000)
    _themes, problems = theming.available_themes()
    [problem] = problems
    assert "deep.yaml: line 2, column" in str(problem) and "nested too deeply" in str(problem)


def test_the_clock_labels_a_zone_without_letters_by_its_offset(demo_backend):
    """As every other time: domain.times.zone_label, never Python's 'UTC+08:00'."""
    app = OpsApp(demo_backend, start="instances")
    app.zone = timezone(timedelta(hours=8))
    moment = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    assert app.clock_text(moment) == "09:30:00 +08"
