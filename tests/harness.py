"""A scheduler world for tests: a deployed workspace, an engine on a ManualClock, and an
operator's backend (user alice). Shared by the engine, action, backfill and dashboard tests;
the ``world`` fixture in conftest.py makes one."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine as Database

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import ManualClock
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import AttemptInfo, InstanceFilter, InstanceInfo
from opscenter.scheduler.engine import Engine
from opscenter.scheduler.procs import process_start_time
from tests.conftest import deploy_folder, write_workspace

TODAY = date(2025, 11, 1)  # a Saturday; periodic instances of today have bizdate 2025-10-31
START = datetime(2025, 11, 1, 1, 0, tzinfo=UTC)  # the root instance (00:00) is already due
DEPLOYED_AT = datetime(2025, 11, 1, 0, 0)  # naive UTC


def at(hour: int, minute: int = 0, second: int = 0, day: date = TODAY) -> datetime:
    """A moment on the workspace clock (UTC), aware."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


class World:
    """One deployed workspace, its scheduler and an operator's backend (user alice)."""

    def __init__(self, store: Database, workspace_id: int, clock: ManualClock) -> None:
        self.store = store
        self.workspace_id = workspace_id
        self.clock = clock
        self.engines: list[Engine] = []
        self.engine = self.new_engine()
        self.backend = LocalBackend(store, "ws", clock, user="alice")

    # -- the scheduler ---------------------------------------------------------

    def new_engine(self) -> Engine:
        engine = Engine(self.store, self.workspace_id, self.clock)
        self.engines.append(engine)
        return engine

    def start(self) -> World:
        self.engine.start()
        self.engine.run_until_idle()
        return self

    def idle(self) -> None:
        self.engine.run_until_idle(limit=10)

    def go(self, when: datetime) -> None:
        """Set the clock and let the scheduler do all it can at that time."""
        self.clock.set(when)
        self.idle()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.idle()

    def tick(self, times: int = 3) -> None:
        """Work without waiting for running processes to end."""
        for _ in range(times):
            self.engine.tick(poll_signals=True)

    def wait_for(self, done: Callable[[], bool], timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("the scheduler did not get there in time")
            self.engine.tick(poll_signals=True)
            time.sleep(0.01)

    def close(self) -> None:
        for engine in self.engines:
            engine.close()

    # -- what an operator reads -------------------------------------------------

    def instance(self, node: str, day: date = TODAY, nth: int = 0) -> InstanceInfo:
        items = self.backend.list_instances(
            InstanceFilter(node=node, kind=InstanceKind.PERIODIC)
        ).items
        return [i for i in items if i.cyctime.date() == day][nth]

    def status(self, node: str, day: date = TODAY) -> Status:
        return self.instance(node, day).status

    def attempts(self, node: str, day: date = TODAY) -> list[AttemptInfo]:
        return self.backend.attempts(self.instance(node, day).id)

    def log(self, node: str, attempt: int | None = None) -> str:
        return self.backend.read_log(self.instance(node).id, attempt).text


MakeWorld = Callable[..., World]


@contextmanager
def worlds(tmp_path: Path, store: Database) -> Iterator[MakeWorld]:
    """make(yaml) deploys workspace ``ws`` (UTC) with the given resource groups and nodes."""
    made: list[World] = []

    def make(yaml_text: str, *, start: datetime = START, speed: float = 1.0) -> World:
        text = "workspace: {name: ws, timezone: UTC}\n" + textwrap.dedent(yaml_text)
        report = deploy_folder(store, write_workspace(tmp_path / "ws", text), now=DEPLOYED_AT)
        made.append(World(store, report.workspace_id, ManualClock(start, speed=speed)))
        return made[-1]

    try:
        yield make
    finally:
        for item in made:
            item.close()


def process_gone(pid: int | None) -> bool:
    return pid is not None and process_start_time(pid) is None
