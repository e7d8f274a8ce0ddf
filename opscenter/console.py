"""Opening the console: choose the world (workspace, store, clock, scheduler), then run the app.

With no options this is the living demo: the demo workspace deployed into the
default state folder and scheduled by a scheduler inside this process on a
simulated clock (x120), so instances move, fail and recover within a minute.
A demo opened again resumes its simulated day where the last one stopped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine as Database

from opscenter import world
from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import Clock
from opscenter.domain.records import not_deployed
from opscenter.domain.times import wall_to_store
from opscenter.errors import UsageError
from opscenter.options import Options
from opscenter.project.loader import load_workspace
from opscenter.remote import open_dataworks
from opscenter.scheduler.daemon import SchedulerThread
from opscenter.scheduler.worldclock import ClockPlan, StoreClock
from opscenter.store import summary
from opscenter.store.audit import os_user

DEMO_SPEED = 120.0


def demo_start(last_activity: datetime | None, now: datetime, zone: ZoneInfo) -> datetime:
    """Where the demo's simulated day starts: today at 00:00, or where the last demo got to."""
    midnight = datetime.combine(now.astimezone(zone).date(), datetime.min.time())
    start = wall_to_store(midnight, zone)
    if last_activity is not None and last_activity > start:
        start = last_activity
    return start.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ConsoleWorld:
    name: str
    db: Database
    workspace_id: int
    plan: ClockPlan | None  # None: attached (--no-scheduler, --readonly): no scheduler here
    notice: str = ""  # said once the console is open (the demo was redeployed)


def console_backend(
    opened: ConsoleWorld, options: Options, wall: Clock, *, source: str
) -> LocalBackend:
    """A console's backend on its opened world: the world's clock read from its store, the
    operator who runs it, and read-only where asked (the backend enforces it)."""
    return LocalBackend(
        opened.db,
        opened.name,
        StoreClock(opened.db, wall),
        user=os_user(),
        readonly=options.readonly,
        source=source,
    )


def open_world(options: Options, wall: Clock) -> ConsoleWorld:
    """The workspace deployed (unless attaching or read-only) and the plan of the clock its
    scheduler will run: the world's own, which another process's scheduler may hold."""
    attach = options.attaches
    if attach and (options.speed or options.start):
        raise UsageError(
            "a console that runs no scheduler (--no-scheduler, --readonly) reads the world's "
            "clock from the store: --speed/--start belong to the scheduler that holds the lease"
        )
    name, folder = world.workspace_arg(options)
    name, db = world.open_named(options)
    known = summary.workspace_id(db, name)
    if (attach or folder is None) and known is None:
        raise UsageError(not_deployed(name))
    if attach:
        assert known is not None
        return ConsoleWorld(name, db, known, None)
    demo = options.is_demo
    # the demo deployed from these very files needs no deploy, nor its YAML read again
    settled = (
        demo
        and known is not None
        and folder is not None
        and world.bundled_unchanged(db, name, folder)
    )
    if folder is not None and not settled:
        zone = ZoneInfo(load_workspace(folder).timezone)
    else:
        assert known is not None
        zone = summary.workspace_zone(db, known)
    if demo and options.start and not options.speed:
        # the demo's day is simulated, from wherever it starts
        options = dataclasses.replace(options, speed=DEMO_SPEED)
    last = summary.last_activity(db, known) if demo and known is not None else None
    plan = world.clock_plan(
        options,
        db,
        wall,
        zone,
        first_speed=DEMO_SPEED if demo else None,
        first_start=demo_start(last, wall.now(), zone) if demo else None,
    )
    # a deploy on a simulated clock happens at its simulated moment, or the next nightly
    # generation would find every node deployed "in the future"
    clock = world.provisional_now(db, plan)
    if folder is None or settled:
        assert known is not None
        return ConsoleWorld(name, db, known, plan)
    if not demo:
        report, db = world.deploy_workspace(options, folder, clock)
        return ConsoleWorld(name, db, report.workspace_id, plan)
    bundled, db, redeployed = world.deploy_bundled(options, folder, clock)
    notice = ""
    if redeployed and known is not None:
        notice = f"the demo was redeployed: its bundled files changed ({bundled.summary})"
    return ConsoleWorld(name, db, bundled.workspace_id, plan, notice)


def check_theme(options: Options) -> None:
    """A --theme no console knows is refused before any world is opened or served."""
    from opscenter.tui import theming

    if options.theme and options.theme not in theming.theme_names():
        known = ", ".join(theming.theme_names())
        raise UsageError(f"no theme {options.theme!r}; known: {known}")


def run_console(options: Options, clock: Clock) -> int:
    check_theme(options)
    theme = options.theme
    if options.wants_dataworks:
        from opscenter.tui.app import OpsApp

        remote = OpsApp(open_dataworks(options, clock), theme=theme, watch_terminal=True)
        remote.run()
        return remote.return_code or 0
    opened = open_world(options, clock)
    scheduler = None
    if opened.plan is not None:
        scheduler = SchedulerThread(opened.db, opened.workspace_id, opened.plan)
        scheduler.start()
        scheduler.wait_started()  # the lease taken and the world's clock published, or standby
    backend = console_backend(opened, options, clock, source="tui")
    from opscenter.tui.app import OpsApp

    app = OpsApp(
        backend, scheduler=scheduler, theme=theme, watch_terminal=True, notice=opened.notice
    )
    try:
        app.run()
    finally:
        if scheduler is not None:
            scheduler.stop()
    return app.return_code or 0
