"""Opening the console on the demo: files unchanged since their deploy cost no deploy and no
read of the workspace before the first paint; changed files are deployed first, and said.

The deploy and the workspace load are counted by wrapping the real functions (each call
still does its real work), so the tests say which of them ran on the way to the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from opscenter import console, world
from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import ManualClock
from tests.test_console_world import options_of

REAL_NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often opening the world deployed the demo and loaded a workspace's YAML itself."""
    counted = {"deploy": 0, "load": 0}

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(world, "deploy_bundled", counting("deploy", world.deploy_bundled))
    monkeypatch.setattr(console, "load_workspace", counting("load", console.load_workspace))
    return counted


def test_an_unchanged_demo_opens_without_a_deploy_or_a_read_of_its_files(
    tmp_path, monkeypatch, calls
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    wall = ManualClock(REAL_NOW)
    first = console.open_world(options_of(), wall)
    assert calls == {"deploy": 1, "load": 1}  # a new store: the demo deployed
    backend = LocalBackend(first.db, "shop", ManualClock(REAL_NOW), user="t")
    backend.undeploy("ads_inventory_alerts")  # an operator's change, which must stay
    again = console.open_world(options_of(), wall)
    assert calls == {"deploy": 1, "load": 1}
    assert (again.name, again.workspace_id, again.notice) == ("shop", first.workspace_id, "")
    assert again.plan is not None  # its scheduler still runs it
    assert backend.get_node("ads_inventory_alerts").state == "undeployed"


def test_a_demo_whose_files_changed_is_deployed_before_the_console_opens_and_says_so(
    tmp_path, monkeypatch, calls
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    wall = ManualClock(REAL_NOW)
    first = console.open_world(options_of(), wall)
    with first.db.begin() as conn:  # as if a new opscenter shipped other demo files
        conn.execute(text("UPDATE meta SET value = 'older' WHERE key = 'bundled_digest:shop'"))
    changed = console.open_world(options_of(), wall)
    assert calls == {"deploy": 2, "load": 2}
    assert changed.notice.startswith("the demo was redeployed: its bundled files changed")
    settled = console.open_world(options_of(), wall)  # and then it is the deployed one again
    assert calls == {"deploy": 2, "load": 2} and settled.notice == ""
