"""Opening the console: choose the world (workspace, store, clock, scheduler), then run the app.

With no options this is the living demo: the demo workspace deployed into the
default state folder and scheduled by a scheduler inside this process on a
simulated clock (x120), so instances move, fail and recover within a minute.
A demo opened again resumes its simulated day where the last one stopped.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine as Database

from opscenter import world
from opscenter.backends.local import LocalBackend
from opscenter.config import apply_config
from opscenter.domain.clock import Clock, SimulatedClock
from opscenter.domain.times import wall_to_store
from opscenter.project.loader import load_workspace
from opscenter.remote import open_dataworks
from opscenter.scheduler.daemon import SchedulerThread
from opscenter.store import summary
from opscenter.store.audit import os_user
from opscenter.verbs import UsageError

DEMO_SPEED = 120.0


def demo_start(last_activity: datetime | None, now: datetime, zone: ZoneInfo) -> datetime:
    """Where the demo's simulated day starts: today at 00:00, or where the last demo got to."""
    midnight = datetime.combine(now.astimezone(zone).date(), datetime.min.time())
    start = wall_to_store(midnight, zone)
    if last_activity is not None and last_activity > start:
        start = last_activity
    return start.replace(tzinfo=UTC)


def choose_clock(
    args: argparse.Namespace, clock: Clock, zone: ZoneInfo, demo: bool, last: datetime | None
) -> tuple[Clock, float | None]:
    """The demo runs simulated at x120 from where it got to; a workspace in real time."""
    speed = getattr(args, "speed", None)
    start = getattr(args, "start", None)
    if demo:
        speed = speed or DEMO_SPEED
        begin = start.replace(tzinfo=zone) if start else demo_start(last, clock.now(), zone)
        return SimulatedClock(begin, speed), speed
    if speed is None and start is None:
        return clock, None
    begin = start.replace(tzinfo=zone) if start else clock.now()
    return SimulatedClock(begin, speed or 1.0), speed or 1.0


@dataclass(frozen=True)
class ConsoleWorld:
    name: str
    db: Database
    workspace_id: int
    clock: Clock
    speed: float | None


def open_world(args: argparse.Namespace, clock: Clock) -> ConsoleWorld:
    """The workspace deployed (unless attaching) on the clock the console will run."""
    name, folder = world.workspace_arg(args)
    attach = getattr(args, "no_scheduler", False)
    demo = getattr(args, "workspace", None) is None
    name, db = world.open_named(args)
    known = summary.workspace_id(db, name)
    if folder is None and known is None:
        raise UsageError(
            f"workspace {name} is not deployed in this store; run 'opscenter deploy PATH'"
        )
    if folder is not None:
        zone = ZoneInfo(load_workspace(folder).timezone)
    else:
        zone = ZoneInfo(summary.workspace_timezone(db, known))
    last = summary.last_activity(db, known) if demo and known is not None else None
    # the clock first: a deploy on a simulated clock happens at its simulated moment,
    # or the next nightly generation would find every node deployed "in the future"
    clock, speed = choose_clock(args, clock, zone, demo, last)
    if folder is not None and not attach:
        report, db = world.deploy_workspace(args, folder, clock)
        return ConsoleWorld(name, db, report.workspace_id, clock, speed)
    if known is None:
        raise UsageError(
            f"workspace {name} is not deployed in this store; run 'opscenter deploy PATH'"
        )
    return ConsoleWorld(name, db, known, clock, speed)


def run_console(args: argparse.Namespace, clock: Clock) -> int:
    from opscenter.tui import theming

    apply_config(args)

    theme = getattr(args, "theme", None)
    if theme and theme not in theming.theme_names():
        raise UsageError(f"no theme {theme!r}; known: {', '.join(theming.theme_names())}")
    if getattr(args, "backend", "local") == "dataworks":
        from opscenter.tui.app import OpsApp

        remote = OpsApp(open_dataworks(args, clock), theme=theme, watch_terminal=True)
        remote.run()
        return remote.return_code or 0
    opened = open_world(args, clock)
    attach = getattr(args, "no_scheduler", False)
    scheduler = None if attach else SchedulerThread(opened.db, opened.workspace_id, opened.clock)
    backend = LocalBackend(
        opened.db,
        opened.name,
        opened.clock,
        user=os_user(),
        readonly=getattr(args, "readonly", False),
        source="tui",
    )
    from opscenter.tui.app import OpsApp

    app = OpsApp(backend, speed=opened.speed, scheduler=scheduler, theme=theme, watch_terminal=True)
    if scheduler is not None:
        scheduler.start()
    try:
        app.run()
    finally:
        if scheduler is not None:
            scheduler.stop()
    return app.return_code or 0
