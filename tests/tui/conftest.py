"""The demo as the console's tests see it: a real store, run by the real engine, then frozen.

One session-scoped run of the demo (deploy, then the engine on a manual clock
from 2026-11-19 00:00 to 2026-11-20 09:30 Shanghai, scripts and SQL executed for
real; business date 2026-11-19 is a drop day, so its quality check fails)
is copied for each test, so every test starts from the same world and may act
on it. The copy is relocated (warehouse, landing and log paths point into it).
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import ManualClock
from opscenter.resources import demo_workspace
from opscenter.scheduler.engine import Engine
from opscenter.store.db import open_store
from tests.conftest import deploy_folder

DAY_START = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)  # 2026-11-19 00:00 in Shanghai
FROZEN_AT = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)  # 2026-11-20 09:30 in Shanghai
BIZDATE = "2026-11-19"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo-template")
    db = open_store(f"sqlite:///{folder / 'state.db'}")
    report = deploy_folder(db, demo_workspace(), now=DAY_START.replace(tzinfo=None))
    clock = ManualClock(DAY_START, speed=1e6)  # the scripts' simulated minutes take no time
    engine = Engine(db, report.workspace_id, clock)
    engine.start()
    while clock.now() < FROZEN_AT:
        engine.run_until_idle()
        clock.advance(timedelta(minutes=5))
    engine.run_until_idle()
    engine.close()
    db.dispose()
    _still_the_run_times(folder / "data" / "logs")
    return folder


def _still_the_run_times(logs: Path) -> None:
    """The logs say how long a statement or process took in real time, which varies from
    run to run; written as 0 so every test (and every snapshot) reads the same logs."""
    for path in logs.rglob("*.log"):
        text = path.read_text(encoding="utf-8")
        still = re.sub(r"(in|after) \d+\.\d+ s\b", r"\1 0.00 s", text)
        if still != text:
            path.write_text(still, encoding="utf-8")


def relocated_copy(template: Path, target: Path) -> str:
    """Copy the demo's state folder and point its stored paths at the copy."""
    shutil.copytree(template, target)
    url = f"sqlite:///{target / 'state.db'}"
    db = open_store(url)
    old, new = str(template), str(target)
    with db.begin() as conn:
        for table, column in (
            ("workspaces", "warehouse"),
            ("workspaces", "landing"),
            ("attempts", "log_path"),
        ):
            conn.execute(
                text(f"UPDATE {table} SET {column} = replace({column}, :old, :new)"),
                {"old": old, "new": new},
            )
    db.dispose()
    return url


@pytest.fixture
def demo_backend(demo_template: Path, tmp_path: Path):
    """alice's backend on a copy of the demo at 09:30, its clock frozen."""
    url = relocated_copy(demo_template, tmp_path / "state")
    db = open_store(url)
    backend = LocalBackend(db, "shop", ManualClock(FROZEN_AT), user="alice", source="tui")
    yield backend
    db.dispose()
