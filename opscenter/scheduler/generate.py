"""Periodic instance generation for one schedule date (spec 2.3, 4).

Every deployed node gets its instances for the day with their instance edges,
in one transaction. Weekly/monthly/yearly nodes get a dry-run instance on
days they do not run, Skip nodes dry-run, Pause (or frozen) nodes are
generated FROZEN, and nothing is generated outside a node's effective dates nor
for a manually triggered node (an operator runs those: scheduler/ondemand.py).
Generating a day twice creates nothing new: a node that already has instances
that day keeps them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache, partial
from itertools import groupby, islice
from operator import attrgetter
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Engine,
    Row,
    Table,
    and_,
    delete,
    insert,
    select,
)
from sqlalchemy.orm import Session

from opscenter.domain.deps import DayPlan, cadence_of
from opscenter.domain.model import (
    Dependency,
    DependencyType,
    InstanceMode,
    Recurrence,
    Slot,
    Status,
)
from opscenter.domain.slots import day_slots
from opscenter.domain.times import to_local, wall_to_store
from opscenter.store.models import (
    BaselineRow,
    GenerationRow,
    InstanceEdgeRow,
    InstanceRow,
    NodeRow,
    NodeVersionRow,
    WorkspaceRow,
    table_of,
)
from opscenter.store.tx import writing
from opscenter.store.workspaces import zone_of

CHUNK = 5000  # rows per INSERT batch
GENERATION_TIME = time(23, 30)  # nightly generation of the next day (decision 13.1)
IMMEDIATE_BUFFER = timedelta(minutes=10)  # Immediately mode: slots this close are expired


@dataclass(frozen=True)
class Generated:
    day: date
    instances: int
    edges: int


@dataclass(frozen=True, slots=True)
class _Deployed:
    """A node with the version of it in effect: only the columns generation reads.

    Read with a Core select of these columns rather than as ORM rows: for a
    10k-node workspace, mapped objects (with every version's code, parameters
    and description) cost more time and memory than the rest of the plan.
    """

    node_id: int
    name: str
    frozen: bool
    version_id: int
    cron: str
    recurrence: str
    start_date: date | None
    end_date: date | None
    priority: int
    resource_group: str
    owner: str
    depends: tuple[Dependency, ...]
    # Immediately mode, new node deployed today: slots up to this wall time are expired
    expired_until: datetime | None = None


# The columns each generated row gives, in table order (``_insert_many`` checks it).
_INSTANCE_COLUMNS = (
    "workspace_id",
    "node_id",
    "node_version_id",
    "kind",
    "bizdate",
    "cyctime",
    "due_at",
    "cycle",
    "status",
    "dry_run",
    "dry_run_reason",
    "run_number",
    "auto_reruns",
    "priority",
    "resource_group",
    "owner",
    "set_success",
    "created_at",
    "status_at",
    "trigger_note",
)
_EDGE_COLUMNS = ("upstream_id", "downstream_id", "cross_cycle")


def generation_cutoff(day: date, zone: ZoneInfo) -> datetime:
    """When the instances of ``day`` are fixed: 23:30 the evening before (naive UTC)."""
    return wall_to_store(datetime.combine(day - timedelta(days=1), GENERATION_TIME), zone)


def next_generation_at(now: datetime, zone: ZoneInfo) -> tuple[datetime, date]:
    """The next nightly run after ``now`` (naive UTC) and the schedule date it generates."""
    local = to_local(now, zone).replace(tzinfo=None)
    run = datetime.combine(local.date(), GENERATION_TIME)
    if run <= local:
        run += timedelta(days=1)
    return wall_to_store(run, zone), run.date() + timedelta(days=1)


def generate_day(
    engine: Engine, workspace_id: int, day: date, *, now: datetime, bootstrap: bool = False
) -> Generated:
    """Generate periodic instances whose scheduled date is ``day``; ``now`` is naive UTC.

    Each node uses the version in effect for that day (spec 2.3): T+1 versions
    deployed before the cutoff (23:30 the evening before), Immediately versions
    also when deployed on the day itself before 23:30. ``bootstrap`` (the first
    start of a workspace) lets today's instances use what was just deployed, so
    a new installation is alive at once.
    """
    with writing(engine) as connection:
        zone = zone_of(connection, workspace_id)
        deployed = _deployed_nodes(connection, workspace_id, day, zone, bootstrap=bootstrap)
        names = {item.node_id: item.name for item in deployed}
        existing, _ = _existing_slots(connection, workspace_id, day, names)
        planned = {
            item.name: _slots_for(item, day, zone) for item in deployed if item.name not in existing
        }
        yesterday: dict[str, list[Slot]] = {}
        yesterday_ids: dict[tuple[str, datetime], int] = {}
        if _crosses_cycles(deployed, planned):
            before = day - timedelta(days=1)
            yesterday, yesterday_ids = _existing_slots(connection, workspace_id, before, names)
        today = existing | {name: [slot for slot, _, _ in got] for name, got in planned.items()}
        cadences = {item.name: cadence_of(item.cron, item.depends) for item in deployed}
        plan = DayPlan(today, yesterday, cadences)

        priorities = _effective_priorities(connection, workspace_id, deployed)
        rows = _instance_rows(workspace_id, deployed, planned, priorities, zone, now)
        instances = _insert_many(connection, table_of(InstanceRow), _INSTANCE_COLUMNS, rows)
        ids = _slot_ids(connection, workspace_id, day, names) | yesterday_ids
        edges = _edge_rows(deployed, planned, plan, ids)
        edge_count = _insert_many(connection, table_of(InstanceEdgeRow), _EDGE_COLUMNS, edges)
        _mark_generated(connection, workspace_id, day, now)
    return Generated(day, instances, edge_count)


def _crosses_cycles(deployed: list[_Deployed], planned: dict[str, list]) -> bool:
    """Whether a node planned today has a cross-cycle dependency.

    Only those look at the day before, so without them yesterday's instances
    (55k rows for a 10k-node workspace) need not be read at all.
    """
    return any(
        dep.type is not DependencyType.NORMAL
        for item in deployed
        if item.name in planned
        for dep in item.depends
    )


def _instance_rows(
    workspace_id: int,
    deployed: list[_Deployed],
    planned: dict[str, list[tuple[Slot, bool, str]]],
    priorities: dict[str, int],
    zone: ZoneInfo,
    now: datetime,
) -> Iterator[tuple]:
    """One row (``_INSTANCE_COLUMNS``) per planned slot, node by node as ``deployed``."""
    due_at = cache(partial(wall_to_store, zone=zone))  # a day has few distinct cyctimes
    for item in deployed:
        frozen = item.frozen or item.recurrence == Recurrence.PAUSE.value
        status = Status.FROZEN.value if frozen else Status.NOT_RUN.value
        priority = priorities.get(item.name, item.priority)
        for slot, dry_run, reason in planned.get(item.name, ()):
            yield (
                workspace_id,
                item.node_id,
                item.version_id,
                "periodic",
                slot.bizdate,
                slot.cyctime,
                due_at(slot.cyctime),
                slot.cycle,
                status,
                dry_run,
                reason,
                0,  # run_number
                0,  # auto_reruns
                priority,
                item.resource_group,
                item.owner,
                False,  # set_success
                now,  # created_at
                now,  # status_at
                "",  # trigger_note
            )


def _edge_rows(
    deployed: list[_Deployed],
    planned: dict[str, list],
    plan: DayPlan,
    ids: dict[tuple[str, datetime], int],
) -> Iterator[tuple[int, int, bool]]:
    """One row (``_EDGE_COLUMNS``) per edge into a planned node's instances.

    A generator: the 223k edges of a 10k-node day go to the database in chunks
    as they are found instead of being held all at once.
    """
    depends = {item.name: item.depends for item in deployed}
    for upstream, downstream, cross_cycle in plan.day_edges(depends, planned):
        up = ids.get((upstream.node, upstream.cyctime))
        down = ids.get((downstream.node, downstream.cyctime))
        if up is not None and down is not None:
            yield up, down, cross_cycle


def _insert_many(
    connection: Connection, table: Table, columns: tuple[str, ...], rows: Iterable[tuple]
) -> int:
    """INSERT ``rows`` (tuples in ``columns`` order) in chunks of CHUNK; returns how many.

    Not ``connection.execute(insert(table), dicts)``: SQLAlchemy builds and
    processes a parameter dict per row, which took longer than SQLite took to
    store it. Here the statement is compiled once, ``_binder`` applies the same
    bind processors (datetime -> text on SQLite, ...), and the driver gets plain
    rows. ``columns`` must be every column given a value, including those with a
    Python-side default, in table order: the compiled statement is checked for it.
    """
    compiled = insert(table).compile(dialect=connection.dialect, column_keys=list(columns))
    bind = _binder(table, columns, connection.dialect)
    to_driver: Callable[[tuple], tuple | dict]
    if compiled.positional:
        if tuple(compiled.positiontup or ()) != columns:
            raise ValueError(f"{table.name}: give {compiled.positiontup}, in that order")
        to_driver = bind
    else:
        if set(compiled.binds) != set(columns):
            raise ValueError(f"{table.name}: give {sorted(compiled.binds)}")

        def named(row: tuple) -> dict:
            return dict(zip(columns, bind(row), strict=True))

        to_driver = named

    count = 0
    rows = iter(rows)
    while chunk := [to_driver(row) for row in islice(rows, CHUNK)]:
        connection.exec_driver_sql(compiled.string, chunk)
        count += len(chunk)
    return count


def _binder(table: Table, columns: tuple[str, ...], dialect: Dialect) -> Callable[[tuple], tuple]:
    """What SQLAlchemy does to a row before the driver gets it: each column's bind
    processor, memoised because a day's rows share few distinct dates and times."""
    processors = []
    for index, name in enumerate(columns):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((index, cache(process)))

    def bind(row: tuple) -> tuple:
        if not processors:
            return row
        values = list(row)
        for index, process in processors:
            values[index] = process(values[index])
        return tuple(values)

    return bind


def _mark_generated(connection: Connection, workspace_id: int, day: date, now: datetime) -> None:
    connection.execute(
        delete(GenerationRow).where(
            GenerationRow.workspace_id == workspace_id, GenerationRow.day == day
        )
    )
    connection.execute(
        insert(GenerationRow).values(workspace_id=workspace_id, day=day, generated_at=now)
    )


_VERSION_COLUMNS = (
    NodeRow.id.label("node_id"),
    NodeRow.name,
    NodeRow.state,
    NodeRow.frozen,
    NodeVersionRow.id.label("version_id"),
    NodeVersionRow.deployed_at,
    NodeVersionRow.instance_mode,
    NodeVersionRow.cron,
    NodeVersionRow.recurrence,
    NodeVersionRow.start_date,
    NodeVersionRow.end_date,
    NodeVersionRow.priority,
    NodeVersionRow.resource_group,
    NodeVersionRow.owner,
    NodeVersionRow.depends,
    NodeVersionRow.workflow,
)


def _deployed_nodes(
    connection: Connection, workspace_id: int, day: date, zone: ZoneInfo, *, bootstrap: bool
) -> list[_Deployed]:
    """Each node with the version in effect on ``day``, or nothing if none is yet."""
    cutoff = generation_cutoff(day, zone)
    query = (
        select(*_VERSION_COLUMNS)
        .join_from(NodeRow, NodeVersionRow, NodeVersionRow.node_id == NodeRow.id)
        .where(NodeRow.workspace_id == workspace_id)
        .where((NodeRow.state == "deployed") | (NodeRow.undeployed_at > cutoff))
        .order_by(NodeRow.id, NodeVersionRow.version)
    )
    chosen: list[_Deployed] = []
    for _, group in groupby(connection.execute(query), key=attrgetter("node_id")):
        versions = list(group)
        eligible = [v for v in versions if _in_effect(v, day, cutoff, zone)]
        if not eligible and bootstrap and versions[-1].state == "deployed":
            eligible = versions[-1:]
        if not eligible:
            continue
        version = eligible[-1]
        if version.workflow is not None:
            continue  # manually triggered: deployed, never scheduled (spec 6.5)
        expired_until = None
        immediate = version.instance_mode == InstanceMode.IMMEDIATELY.value
        if immediate and version.deployed_at >= cutoff and len(eligible) == 1:
            deployed_local = to_local(version.deployed_at, zone)
            expired_until = deployed_local.replace(tzinfo=None) + IMMEDIATE_BUFFER
        chosen.append(_deployed(version, expired_until))
    return chosen


def _deployed(row: Row, expired_until: datetime | None) -> _Deployed:
    return _Deployed(
        node_id=row.node_id,
        name=row.name,
        frozen=row.frozen,
        version_id=row.version_id,
        cron=row.cron,
        recurrence=row.recurrence,
        start_date=row.start_date,
        end_date=row.end_date,
        priority=row.priority,
        resource_group=row.resource_group,
        owner=row.owner,
        depends=tuple(Dependency(DependencyType(t), n) for t, n in row.depends),
        expired_until=expired_until,
    )


def _in_effect(version: Row, day: date, cutoff: datetime, zone: ZoneInfo) -> bool:
    if version.deployed_at < cutoff:
        return True
    if version.instance_mode != InstanceMode.IMMEDIATELY.value:
        return False
    local = to_local(version.deployed_at, zone)
    return local.date() == day and local.time() < GENERATION_TIME


def _slots_for(item: _Deployed, day: date, zone: ZoneInfo) -> list[tuple[Slot, bool, str]]:
    """(slot, dry_run, reason) for each periodic instance the node gets on ``day``."""
    if (item.start_date and day < item.start_date) or (item.end_date and day > item.end_date):
        return []
    planned = day_slots(item.name, item.cron, item.recurrence, day, zone)
    if item.expired_until is None:
        return planned
    return [
        (slot, True, "expired")
        if not dry and slot.cyctime <= item.expired_until
        else (slot, dry, why)
        for slot, dry, why in planned
    ]


def _periodic_on(workspace_id: int, day: date) -> ColumnElement[bool]:
    """The periodic instances whose cyctime falls on ``day``."""
    start = datetime.combine(day, time(0))
    return and_(
        InstanceRow.workspace_id == workspace_id,
        InstanceRow.kind == "periodic",
        InstanceRow.cyctime >= start,
        InstanceRow.cyctime < start + timedelta(days=1),
    )


def _existing_slots(
    connection: Connection, workspace_id: int, day: date, names: dict[int, str]
) -> tuple[dict[str, list[Slot]], dict[tuple[str, datetime], int]]:
    """The slots of ``day`` already generated for the nodes in ``names`` (node id ->
    name), each node's sorted by cyctime, and their instance ids by (node, cyctime)."""
    query = (
        select(
            InstanceRow.id,
            InstanceRow.node_id,
            InstanceRow.cyctime,
            InstanceRow.bizdate,
            InstanceRow.cycle,
        )
        .where(_periodic_on(workspace_id, day))
        .order_by(InstanceRow.cyctime, InstanceRow.id)
    )
    slots: dict[str, list[Slot]] = defaultdict(list)
    ids: dict[tuple[str, datetime], int] = {}
    for row in connection.execute(query):
        name = names.get(row.node_id)
        if name is None:
            continue
        slots[name].append(Slot(name, row.cyctime, row.bizdate, row.cycle))
        ids[name, row.cyctime] = row.id
    return dict(slots), ids


def _slot_ids(
    connection: Connection, workspace_id: int, day: date, names: dict[int, str]
) -> dict[tuple[str, datetime], int]:
    """Instance ids of ``day`` by (node, cyctime), which is unique for periodic instances.

    Read back after the insert, without building Slot objects: edges only need ids.
    """
    query = select(InstanceRow.id, InstanceRow.node_id, InstanceRow.cyctime).where(
        _periodic_on(workspace_id, day)
    )
    return {
        (names[node_id], cyctime): instance_id
        for instance_id, node_id, cyctime in connection.execute(query)
        if node_id in names
    }


def _effective_priorities(
    connection: Connection, workspace_id: int, deployed: list[_Deployed]
) -> dict[str, int]:
    """A baseline's priority lifts its nodes and all their ancestors (max wins)."""
    lifted = {d.name: d.priority for d in deployed}
    baselines = connection.execute(
        select(BaselineRow.priority, BaselineRow.nodes).where(
            BaselineRow.workspace_id == workspace_id, BaselineRow.enabled
        )
    ).all()
    if not baselines:
        return lifted
    parents = {
        d.name: [dep.node for dep in d.depends if dep.type is DependencyType.NORMAL]
        for d in deployed
    }
    for priority, outputs in baselines:
        for name in _with_ancestors(parents, [o for o in outputs if o in lifted]):
            if name in lifted:
                lifted[name] = max(lifted[name], priority)
    return lifted


def _with_ancestors(parents: dict[str, list[str]], starts: list[str]) -> set[str]:
    """``starts`` and every ancestor of them, in one walk: a baseline's outputs share
    most of their ancestors, which a closure per output would visit again each time."""
    seen = set(starts)
    stack = list(starts)
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def ensure_generated(engine: Engine, workspace_id: int, now: datetime) -> list[Generated]:
    """What a starting scheduler does: today's instances exist, and tomorrow's after 23:30.

    On the very first start (no instance yet) today is generated from what was
    just deployed, whatever its instance mode, so a new workspace is alive at once.
    """
    with Session(engine) as session:
        ws = session.get(WorkspaceRow, workspace_id)
        if ws is None:
            raise LookupError(f"no workspace #{workspace_id} in this store")
        zone, deployed_at = ZoneInfo(ws.timezone), ws.deployed_at
        first = (
            session.scalar(
                select(InstanceRow.id).where(InstanceRow.workspace_id == workspace_id).limit(1)
            )
            is None
        )
        done = dict(
            session.execute(
                select(GenerationRow.day, GenerationRow.generated_at).where(
                    GenerationRow.workspace_id == workspace_id
                )
            ).all()
        )
    local = to_local(now, zone)
    days = [local.date()]
    if local.time() >= GENERATION_TIME:
        days.append(local.date() + timedelta(days=1))
    # a day generated since the last deploy has nothing new to generate
    todo = [d for d in days if d not in done or done[d] < deployed_at]
    return [generate_day(engine, workspace_id, day, now=now, bootstrap=first) for day in todo]
