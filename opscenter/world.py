"""Which world a command works in: the workspace folder or name, the store, its clock, a deploy.

Shared by the headless verbs and the console, so both open the same store the same way.
A command acts on exactly the world it was given, or refuses: without ``--workspace`` a
store holding one workspace means that one, several are an error that lists them, and
only the default store (no ``--db``) gets the bundled demo.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from opscenter.domain.clock import Clock
from opscenter.domain.times import to_store
from opscenter.errors import UsageError
from opscenter.options import Options
from opscenter.project.loader import load_workspace, workspace_file
from opscenter.resources import demo_workspace
from opscenter.scheduler import worldclock
from opscenter.scheduler.worldclock import ClockPlan, StoreClock
from opscenter.store import lease, meta
from opscenter.store.audit import os_user
from opscenter.store.db import StoreError, default_url, open_store, state_home, unwritable
from opscenter.store.deploy import DeployReport, deploy
from opscenter.store.models import WorkspaceRow
from opscenter.store.tx import writing


def store_for(options: Options, workspace: str) -> tuple[str, Path]:
    """The database URL and the data folder (warehouse, landing, logs) beside it."""
    url = options.db or default_url(workspace)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return url, Path(url.removeprefix("sqlite:///")).expanduser().parent
    return url, state_home() / workspace


def workspace_arg(options: Options) -> tuple[str, Path | None]:
    """(workspace name, its folder if known): --workspace is a folder or a deployed name;
    without it, the one workspace of the --db store, or the demo in the default store."""
    given = options.workspace
    if given:
        path = Path(given)
        if path.exists():
            return load_workspace(path).name, path
        return given, None
    if options.is_demo:
        path = demo_workspace()
        return load_workspace(path).name, path
    url = options.db
    if url is None:  # --workspace was given, but empty
        raise UsageError("--workspace names a workspace folder or a deployed workspace")
    names = deployed_names(open_store(url))
    if len(names) == 1:
        return names[0], None
    if names:
        raise UsageError(
            f"the store {url} holds {len(names)} workspaces ({', '.join(names)}); "
            "choose one with --workspace NAME"
        )
    raise UsageError(
        f"the store {url} holds no workspace; deploy one first "
        f"(opscenter deploy PATH --db URL) or pass --workspace PATH "
        f"(the demo: --workspace {demo_workspace()})"
    )


def deployed_names(db: Engine) -> list[str]:
    with db.connect() as conn:
        return list(conn.scalars(select(WorkspaceRow.name).order_by(WorkspaceRow.name)))


def open_named(options: Options) -> tuple[str, Engine]:
    name, _folder = workspace_arg(options)
    url, _ = store_for(options, name)
    return name, open_store(url)


def writable(db: Engine, writer: str) -> Engine:
    """``db``, if this process can write it; else refused with the reason (the store was
    opened read-only), before ``writer`` fails on its first write."""
    reason = unwritable(db)
    if reason is not None:
        raise StoreError(f"{reason}; {writer} writes to it")
    return db


def deploy_workspace(options: Options, path: Path, clock: Clock) -> tuple[DeployReport, Engine]:
    workspace = load_workspace(path)
    url, data_dir = store_for(options, workspace.name)
    db = writable(open_store(url), "a deploy")
    now = to_store(clock.now())
    report = deploy(
        db, workspace, workspace_file(path).parent, data_dir=data_dir, now=now, user=os_user()
    )
    return report, db


def folder_digest(folder: Path) -> str:
    """Everything in a workspace folder, as one fingerprint: did the bundled files change?"""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(folder)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def bundled_unchanged(db: Engine, name: str, folder: Path) -> bool:
    """The bundled workspace's files are the ones last deployed: their digest is the one the
    store keeps."""
    digest = folder_digest(workspace_file(folder).parent)
    with db.connect() as conn:
        return meta.bundled_digest(conn, name) == digest


def deploy_bundled(options: Options, path: Path, clock: Clock) -> tuple[DeployReport, Engine, bool]:
    """The demo is deployed when its store lacks it or its files changed (a new opscenter),
    never over an operator's undeploy or freeze otherwise. The flag: it was deployed now."""
    workspace = load_workspace(path)
    url, _ = store_for(options, workspace.name)
    db = open_store(url)
    with db.connect() as conn:
        deployed = conn.scalar(select(WorkspaceRow.id).where(WorkspaceRow.name == workspace.name))
    if deployed is not None and bundled_unchanged(db, workspace.name, path):
        names = [node.name for node in workspace.nodes]
        return DeployReport(workspace.name, deployed, unchanged=names), db, False
    db.dispose()  # the deploy opens the same store for itself: no second pool left behind
    report, db = deploy_workspace(options, path, clock)
    with writing(db) as conn:
        meta.set_bundled_digest(conn, workspace.name, folder_digest(workspace_file(path).parent))
    return report, db, True


# -- the world's clock ------------------------------------------------------------------


def clock_plan(
    options: Options,
    db: Engine,
    wall: Clock,
    zone: ZoneInfo,
    *,
    first_speed: float | None = None,
    first_start: datetime | None = None,
) -> ClockPlan:
    """The clock a scheduler started by this command runs. ``--speed``/``--start`` set the
    world's clock, which belongs to the scheduler holding the lease: given while another
    scheduler holds it, they are refused with the reason. A scheduler writes: a store this
    process cannot write is refused here, for the scheduler verb and the console alike."""
    writable(db, "a scheduler (read it without one: a reading verb, or --no-scheduler)")
    start = options.start
    plan = ClockPlan(
        speed=options.speed,
        start=start.replace(tzinfo=zone) if start else None,
        first_speed=first_speed,
        first_start=first_start,
        wall=wall,
    )
    if plan.sets_the_clock:
        holder = lease.live_holder(db)
        if holder is not None:
            raise UsageError(clock_refusal(db, holder.holder, wall, zone))
    return plan


def clock_refusal(db: Engine, holder: str, wall: Clock, zone: ZoneInfo) -> str:
    """Why --speed/--start cannot be given here, with the world's clock as it is."""
    world = StoreClock(db, wall)
    speed = f" ×{world.speed:g}" if world.speed != 1 else " (real time)"
    return (
        f"the world's clock belongs to its scheduler {holder}: it reads "
        f"{world.now().astimezone(zone):%Y-%m-%d %H:%M %Z}{speed}; drop --speed/--start, "
        "or stop that scheduler first"
    )


def provisional_now(db: Engine, plan: ClockPlan) -> Clock:
    """The world's clock as this command's scheduler will run it (a deploy happens at its
    moment), or the running scheduler's where another one holds the lease."""
    if lease.live_holder(db) is not None:
        return StoreClock(db, plan.wall)
    return plan.clock(worldclock.read(db))
