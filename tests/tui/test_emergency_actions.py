"""The emergency operations and the runs on demand in the console (spec 6.1, 6.5): a key on
an instance or a node opens a form (which upstreams, a priority, a group, a business date,
the comment), then the confirm with the exact targets; `y` sends it to the backend, which
audits the comment. The world is a real local backend on the harness's workspace."""

from __future__ import annotations

import re

import pytest

from opscenter.backends.local import LocalBackend
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import InstanceFilter
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.action_form import ActionForm
from opscenter.tui.screens.confirm import ConfirmScreen
from tests.harness import MakeWorld, World
from tests.test_cli_emergency import WORLD
from tests.tui.helpers import press, screen_text, settle


@pytest.fixture
def w(world: MakeWorld) -> World:
    made = world(WORLD).start()
    made.idle()
    assert made.status("broken") is Status.FAILURE and made.status("stage") is Status.NOT_RUN
    return made


def waits_for(w: World, node: str) -> set[str]:
    relatives = w.backend.relatives(w.instance(node).id, "up")
    return {r.instance.node for r in relatives if r.level == 1 and r.removed is None}


async def on_instance(pilot, app: OpsApp, w: World, node: str) -> None:
    await settle(pilot)
    app.open_instance(w.instance(node).id)
    await settle(pilot)


async def typed(pilot, text: str) -> None:
    await press(pilot, *("space" if c == " " else c for c in text))


async def test_remove_upstream_lists_the_upstreams_and_sends_the_comment(w: World) -> None:
    app = OpsApp(w.backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await on_instance(pilot, app, w, "stage")
        broken = w.instance("broken")
        await press(pilot, "U")
        assert isinstance(app.screen, ActionForm)
        text = screen_text(pilot)
        assert "Remove upstream dependencies" in text
        assert "[x] ✗ FAILURE broken" in text and f"#{broken.id}" in text  # not SUCCESS: chosen
        await press(pilot, "tab")
        await typed(pilot, "source down")
        await press(pilot, "enter")
        assert isinstance(app.screen, ConfirmScreen)
        text = screen_text(pilot)
        assert "no longer wait for 1 upstream instance" in text
        assert "✂ broken" in text and "Comment: source down" in text
        assert "Baseline morning" in text
        await press(pilot, "y")
        assert not isinstance(app.screen, ConfirmScreen)
    assert waits_for(w, "stage") == set()
    [entry] = [e for e in w.backend.audit_log(limit=1)]
    assert (entry.action, entry.outcome) == ("remove upstream", "ok")
    assert "source down" in entry.detail


async def test_space_chooses_which_upstreams_and_esc_leaves_nothing_done(w: World) -> None:
    app = OpsApp(w.backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await on_instance(pilot, app, w, "report")
        await press(pilot, "U")
        text = screen_text(pilot)
        assert "[ ] ✓ SUCCESS extract" in text and "[x] ○ NOT_RUN stage" in text
        await press(pilot, "escape")
        assert not isinstance(app.screen, ActionForm)
        assert waits_for(w, "report") == {"extract", "stage"}

        await press(pilot, "U", "space", "j", "space")  # extract in, stage out
        text = screen_text(pilot)
        assert "[x] ✓ SUCCESS extract" in text and "[ ] ○ NOT_RUN stage" in text
        await press(pilot, "enter")
        assert isinstance(app.screen, ConfirmScreen)
        assert "✂ extract" in screen_text(pilot) and "✂ stage" not in screen_text(pilot)
        await press(pilot, "y")
    assert waits_for(w, "report") == {"stage"}


async def test_priority_and_resource_group_of_an_instance(w: World) -> None:
    later = w.instance("later")
    app = OpsApp(w.backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await on_instance(pilot, app, w, "later")
        await press(pilot, "p")
        assert isinstance(app.screen, ActionForm)
        await press(pilot, "ctrl+u", "4", "enter")
        assert "one of 1, 3, 5, 7, 8" in screen_text(pilot)
        await press(pilot, "ctrl+u", "8", "tab")
        await typed(pilot, "month end")
        await press(pilot, "enter")
        text = screen_text(pilot)
        assert "1 instance will run at priority 8" in text and f"#{later.id}" in text
        await press(pilot, "y")
        assert w.backend.get_instance(later.id).priority == 8

        await press(pilot, "M", "ctrl+u")
        await typed(pilot, "spare")
        await press(pilot, "enter")
        assert "1 instance will run in resource group spare" in screen_text(pilot)
        await press(pilot, "y")
        assert w.backend.get_instance(later.id).resource_group == "spare"
    actions = [(e.action, e.outcome) for e in w.backend.audit_log(limit=2)]
    assert actions == [("update", "ok"), ("update", "ok")]
    assert "month end" in w.backend.audit_log(limit=2)[1].detail


async def test_help_lists_the_emergency_keys_and_read_only_refuses_them(w: World) -> None:
    readonly = LocalBackend(w.store, "ws", w.clock, user="bob", readonly=True, source="tui")
    app = OpsApp(readonly, start="instances")
    async with app.run_test(size=(100, 70)) as pilot:  # help without scrolling
        await on_instance(pilot, app, w, "stage")
        footer = screen_text(pilot).splitlines()[-1]
        assert "remove upstream" not in footer  # emergency keys: help and the palette
        await press(pilot, "question_mark")
        text = screen_text(pilot)
        for key, words in (("U", "remove upstream"), ("p", "priority"), ("M", "move group")):
            assert re.search(rf"│  {key}\s+{words}: emergency: ", text), (key, text)
        assert text.count("(unavailable:") == 9  # rerun … unfreeze, and these three
        await press(pilot, "escape", "U")
        assert not isinstance(app.screen, ActionForm)
        said = [n.message for n in app._notifications if "read-only" in n.message]
        assert said == [
            "Remove upstream dependencies is not available: opscenter runs read-only (--readonly)"
        ]
    [entry] = [e for e in w.backend.audit_log(limit=1)]
    assert (entry.action, entry.outcome, entry.user) == ("remove upstream", "refused", "bob")
    assert waits_for(w, "stage") == {"broken"}


def of_kind(w: World, kind: InstanceKind) -> list[str]:
    page = w.backend.list_instances(InstanceFilter(kind=kind, bizdate=None, limit=50))
    return sorted(i.node for i in page.items)


async def test_test_run_asks_the_business_date_of_the_console(w: World) -> None:
    app = OpsApp(w.backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_node("extract")
        await settle(pilot)
        await press(pilot, "T")
        assert isinstance(app.screen, ActionForm)
        day = str(app.day_in_view())
        assert day in screen_text(pilot)
        await press(pilot, "enter")
        text = screen_text(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "One test instance of this node will run for business date" in text
        assert f"{day}, with that date's parameters" in text and "  extract" in text
        await press(pilot, "y")
    assert of_kind(w, InstanceKind.TEST) == ["extract"]


async def test_run_workflow_on_a_manual_node_and_not_on_a_scheduled_one(w: World) -> None:
    app = OpsApp(w.backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_node("extract")
        await settle(pilot)
        await press(pilot, "W")
        assert not isinstance(app.screen, ActionForm)
        assert any("auto-triggered" in n.message for n in app._notifications)

        await press(pilot, "escape", "slash")  # the Nodes list lists manual nodes too
        await typed(pilot, "export")
        await press(pilot, "enter", "W")
        assert isinstance(app.screen, ActionForm)
        text = screen_text(pilot)
        assert "[x] export" in text and "[x] notify" in text
        await press(pilot, "j", "space", "enter")  # notify left out
        text = screen_text(pilot)
        assert "Workflow adhoc will run for business date" in text and "1 node of it" in text
        await press(pilot, "y")
    assert of_kind(w, InstanceKind.MANUAL) == ["export"]


async def test_a_manual_nodes_own_screen_says_how_it_runs_and_runs_its_workflow(w: World) -> None:
    """A manual node has no cron: its screen says it runs when an operator runs it (not a
    stale console), and W from there runs its workflow."""
    app = OpsApp(w.backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_node("export")
        await settle(pilot)
        text = screen_text(pilot)
        assert app.stale_since is None
        assert "manually triggered · workflow adhoc" in text
        assert "next: when an operator runs it (W runs its workflow)" in text
        await press(pilot, "W")
        assert isinstance(app.screen, ActionForm)


async def test_a_removed_upstream_is_drawn_dashed_and_named_in_the_why(w: World) -> None:
    """After an emergency removal the instance screen still shows the upstream, marked as
    removed (readable without colour), and the why no longer counts it."""
    stage = w.instance("stage")
    w.backend.remove_upstream(stage.id, comment="source down")
    app = OpsApp(w.backend, start="instances")
    async with app.run_test(size=(100, 30)) as pilot:
        await on_instance(pilot, app, w, "stage")
        text = screen_text(pilot)
        assert "✗ broken ┄ removed by al" in text  # cut at the tree's width
        assert "✓ upstream" in text  # the removed one no longer holds it back
