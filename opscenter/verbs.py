"""Headless verbs over a Backend: what the console shows and does, for scripts.

Every verb prints plain text readable without colour (status glyph + word),
or JSON with ``--json``; a refusal prints the backend's reason and exits 3, an id or
name that is not there exits 4. Tables are cut only to fit a terminal, never a name, and
never when piped or redirected: a script or a file gets every character.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from opscenter.backends.base import Backend
from opscenter.domain.cron import parse_cron
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import (
    ATTEMPT_NOTE,
    NO_BASELINE,
    ActionResult,
    AuditEntry,
    BackfillRequest,
    BaselineImpact,
    BaselineStatus,
    InstanceFilter,
    InstanceInfo,
    NodeFilter,
    blocked_text,
    counted,
)
from opscenter.domain.rules import (
    default_bizdate,
    duration_text,
    is_slow,
    minutes_text,
    run_time_text,
)
from opscenter.domain.times import TimeView, to_local

WALL, MOMENT = "wall", "moment"

# How each naive datetime of a record is kept (records.py), by field name: the one table
# to_json reads. A cyctime (and the keyset cursor made of one) is wall-clock time in the
# workspace zone; every other is a moment, naive UTC. Aware ones (next fire times, the
# world's now) say their zone themselves. A name not listed is taken as a moment.
TIME_FIELDS: dict[str, str] = {
    "cyctime": WALL,
    "after": WALL,  # InstanceFilter: (cyctime, id)
    "next_after": WALL,  # Page: (cyctime, id)
    "started_at": MOMENT,
    "finished_at": MOMENT,
    "retry_at": MOMENT,
    "deployed_at": MOMENT,
    "created_at": MOMENT,
    "updated_at": MOMENT,
    "at": MOMENT,
    "wall_at": MOMENT,  # the real time of an audited act (naive UTC too, despite its name)
    "est_start": MOMENT,
    "est_finish": MOMENT,
    "committed_at": MOMENT,
    "alert_at": MOMENT,
    "predicted_finish": MOMENT,
    "if_rerun_now": MOMENT,
    "first_at": MOMENT,
    "last_sent_at": MOMENT,
    "resolved_at": MOMENT,
}


def to_json(value: Any, view: TimeView | None = None, name: str = "") -> Any:
    """Records as JSON-ready data: enums by value, dates (business dates) ``yyyy-mm-dd`` and
    datetimes ISO 8601 instants with their offset, in ``view``'s zone (UTC without one).
    ``name`` is the field a value sits in: it says, through TIME_FIELDS, how a naive
    datetime is kept."""
    view = view or TimeView(UTC, UTC)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {
            f.name: to_json(getattr(value, f.name), view, f.name) for f in dataclasses.fields(value)
        }
        for extra in ("duration", "status_label", "total", "dates_done", "at_end"):
            if hasattr(type(value), extra):
                data[extra] = to_json(getattr(value, extra), view, extra)
        return data
    if isinstance(value, dict):
        return {
            (k.value if isinstance(k, Enum) else str(k)): to_json(v, view, str(k))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [to_json(v, view, name) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        if value.tzinfo is None and TIME_FIELDS.get(name, MOMENT) == WALL:
            return view.wall_instant(value).isoformat()
        return view.moment_instant(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def emit(
    args: argparse.Namespace, value: Any, text: Callable[[], str], view: TimeView | None = None
) -> None:
    """Print ``value`` as JSON with ``--json`` (its times as ``view`` shows them), else text."""
    print(json.dumps(to_json(value, view), indent=2) if getattr(args, "json", False) else text())


def time_view(backend: Backend, args: argparse.Namespace) -> TimeView:
    """Times as this command shows them: in the workspace zone, or in UTC with ``--utc``."""
    return TimeView.of(ZoneInfo(backend.workspace().timezone), getattr(args, "utc", False))


@dataclasses.dataclass(frozen=True)
class Column:
    """A column of a text table: as wide as its widest cell. ``least`` is how narrow a
    terminal may cut it (None: never, as a name); ``gives`` orders the cuts (1 first)."""

    header: str
    right: bool = False
    least: int | None = None
    gives: int = 0


def terminal_width() -> int | None:
    """The terminal's width when stdout is one; None when piped or redirected, where
    nothing is cut."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None) -> list[str]:
    """The header and a line per row, columns one space apart. At a terminal (``width``)
    too narrow for them, the columns that may give are cut, in their order, down to their
    least, until the lines fit; a name never is, so a line may still wrap."""
    widths = [max([len(c.header), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    if width is not None:
        excess = sum(widths) + len(widths) - 1 - width
        for i in sorted(
            (i for i, c in enumerate(columns) if c.least), key=lambda i: columns[i].gives
        ):
            spare = max(widths[i] - (columns[i].least or 0), 0)
            widths[i] -= min(spare, max(excess, 0))
            excess -= min(spare, max(excess, 0))

    def line(cells: Sequence[str]) -> str:
        shown = [
            f"{_cut(cell, w):{'>' if c.right else '<'}{w}}"
            for cell, c, w in zip(cells, columns, widths, strict=True)
        ]
        return " ".join(shown).rstrip()

    return [line([c.header for c in columns]), *(line(r) for r in rows)]


def instance_table(
    items: list[InstanceInfo],
    view: TimeView,
    now_utc: datetime | None = None,
    width: int | None = None,
) -> list[str]:
    """The header and a line per instance; the header names the cyctimes' zone
    (``CYCTIME (CST)``, ``CYCTIME (PST/PDT)`` across a change), never each row. Each run
    time (so far, when running at ``now_utc``, naive UTC) sits beside its node's usual one,
    ▲ when SLOW (decision 13.10), as the console marks it. At a terminal the owner, the run
    time and the status give way first; the node name never does."""
    label = view.walls_label(i.cyctime for i in items)
    columns = [
        Column("ID", right=True),
        Column("STATUS", least=9, gives=3),
        Column("NODE"),
        Column(f"CYCTIME ({label})" if label else "CYCTIME"),
        Column("ATT", right=True),
        Column("TOOK (AVG)", least=6, gives=2),
        Column("OWNER", least=3, gives=1),
    ]

    def cells(item: InstanceInfo) -> list[str]:
        ran = item.run_time(now_utc) if now_utc else item.duration
        took, slow = duration_text(ran), is_slow(ran, item.average)
        if ran is not None and (item.average or slow):
            took = f"{took}{'▲' if slow else ' '}({duration_text(item.average)})"
        return [
            str(item.id),
            item.status_label,
            item.node,
            f"{view.wall_instant(item.cyctime):%m-%d %H:%M}",
            item.attempt_cell,
            took,
            item.owner,
        ]

    lines = table(columns, [cells(i) for i in items], width)
    if any(i.past_automatic for i in items):
        lines.append(ATTEMPT_NOTE)
    return lines


def _ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: instance ids are numbers") from None


# -- reading -----------------------------------------------------------------------


def nodes(backend: Backend, args: argparse.Namespace) -> int:
    found = backend.list_nodes(
        NodeFilter(text=args.text or "", owner=args.owner or "", type=args.type or "")
    )

    def text() -> str:
        columns = [
            Column("NODE"),
            Column("TYPE"),
            Column("OWNER", least=3, gives=1),
            Column("PRIO", right=True),
            Column("GROUP", least=3, gives=2),
            Column("SCHEDULE", least=12, gives=3),
        ]
        rows = [
            [
                n.name,
                n.type,
                n.owner,
                str(n.priority),
                n.resource_group,
                n.schedule + (" ❄ frozen" if n.frozen else ""),
            ]
            for n in found
        ]
        return "\n".join([*table(columns, rows, terminal_width()), counted(len(found), "node")])

    emit(args, found, text, time_view(backend, args))
    return 0


def node(backend: Backend, args: argparse.Namespace) -> int:
    info = backend.get_node(args.name)
    zone = ZoneInfo(backend.workspace().timezone)
    upcoming = parse_cron(info.cron).next_fire_times(backend.now(), 5, zone)
    view = TimeView.of(zone, getattr(args, "utc", False))

    def text() -> str:
        lines = [
            f"{info.name} · {info.type} · owner {info.owner or '-'} · priority {info.priority} · "
            f"group {info.resource_group} · version {info.version} of "
            f"{view.moment(info.deployed_at)} · {info.state}",
            f"schedule: {info.schedule}  (cron {info.cron})",
            "next: " + ", ".join(view.moment(t, "%m-%d %H:%M") for t in upcoming),
            f"run mode {info.recurrence} · instances {info.instance_mode} · "
            f"rerun {info.rerun_mode} "
            f"· auto rerun {info.rerun_times}x every {duration_text(info.rerun_interval)} "
            f"· timeout {minutes_text(info.timeout) if info.timeout else 'none'}",
            f"upstream: {', '.join(info.upstreams) or '-'}",
            f"downstream: {', '.join(info.downstreams) or '-'}",
        ]
        if info.cross_cycle:
            lines.append(
                "cross-cycle: " + ", ".join(f"{t} {n}".strip() for t, n in info.cross_cycle)
            )
        lines.append("parameters: " + " ".join(f"{k}={v}" for k, v in info.parameters.items()))
        if info.code:
            lines += [
                "code" + (f" ({info.code_file})" if info.code_file else "") + ":",
                info.code.rstrip(),
            ]
        return "\n".join(lines)

    emit(args, {"node": info, "next_fire_times": upcoming}, text, view)
    return 0


def instances(backend: Backend, args: argparse.Namespace) -> int:
    statuses = (
        tuple(Status(s.strip().upper()) for s in args.status.split(",")) if args.status else ()
    )
    page = backend.list_instances(
        InstanceFilter(
            # a backfill's instances span its own dates: no default business date then
            bizdate=None
            if args.all_dates or args.backfill
            else args.bizdate or _yesterday(backend),
            statuses=statuses,
            node=args.node or "",
            owner=args.owner or "",
            kind=InstanceKind(args.kind) if args.kind else None,
            backfill_id=args.backfill,
            text=args.text or "",
            descending=args.desc,
            limit=args.limit,
        )
    )

    view = time_view(backend, args)

    now_utc = _now_utc(backend)

    def text() -> str:
        lines = instance_table(page.items, view, now_utc, terminal_width())
        lines.append(f"{len(page.items)} of {page.total} shown")
        return "\n".join(lines)

    emit(args, page, text, view)
    return 0


def show(backend: Backend, args: argparse.Namespace) -> int:
    info = backend.get_instance(args.id)
    tried = backend.attempts(args.id)
    view = time_view(backend, args)
    took = run_time_text(info.run_time(_now_utc(backend)), info.average)

    def text() -> str:
        lines = [
            f"{info.node} · #{info.id} · {info.kind.value} · cyctime {view.wall(info.cyctime)} "
            f"· bizdate {info.bizdate:%Y%m%d}",
            f"{info.status_label} · {info.attempt_words} · group "
            f"{info.resource_group} · priority {info.priority} · owner {info.owner or '-'}"
            + (f" · run time {took}" if took else ""),
        ]
        if info.dry_run:
            lines.append(f"dry-run: {info.dry_run_reason}")
        for a in tried:
            started = view.moment(a.started_at, "%Y-%m-%d %H:%M:%S")
            lines.append(
                f"  attempt {a.number}: {a.status.label:<12} started {started} "
                f"by {a.triggered_by}" + (f" · {a.reason}" if a.reason else "")
            )
        return "\n".join(lines)

    emit(args, {"instance": info, "attempts": tried}, text, view)
    return 0


def logs(backend: Backend, args: argparse.Namespace) -> int:
    if args.follow:
        for page in backend.follow_log(args.id, args.attempt):
            sys.stdout.write(page.text)
            sys.stdout.flush()
        return 0
    offset = 0
    while True:
        page = backend.read_log(args.id, args.attempt, offset)
        sys.stdout.write(page.text)
        if page.next_offset == offset or page.at_end:
            return 0
        offset = page.next_offset


def why(backend: Backend, args: argparse.Namespace) -> int:
    diagnosis = backend.diagnose(args.id)
    zone = backend.workspace().timezone

    def text() -> str:
        lines = [f"#{args.id}: {diagnosis.summary}"]
        lines += [f"  {'✓' if s.ok else '✗'} {s.check:<10}{s.message}" for s in diagnosis.steps]
        # the backend words the steps: its cyctimes are wall-clock, its other times say UTC
        if any(re.search(r"\d\d:\d\d", s.message) for s in diagnosis.steps):
            lines.append(f"  (times without a zone are cyctimes, wall-clock time in {zone})")
        return "\n".join(lines)

    emit(args, diagnosis, text, time_view(backend, args))
    return 0


def backfills(backend: Backend, args: argparse.Namespace) -> int:
    found = [backend.get_backfill(args.id)] if args.id is not None else backend.list_backfills()
    view = time_view(backend, args)

    def text() -> str:
        lines = []
        for b in found:
            lines.append(
                f"#{b.id} {b.name} · {b.status} · {b.dates_done}/{len(b.runs)} dates done · "
                f"parallel {b.parallel} · by {b.created_by} on {view.moment(b.created_at)}"
            )
            for run in b.runs:
                counts = " ".join(f"{s.glyph}{n}" for s, n in run.counts.items() if n)
                lines.append(f"    {run.bizdate:%Y-%m-%d}  {run.status:<8} {counts}")
        return "\n".join(lines) or "no backfills"

    emit(args, found, text, view)
    return 0


def audit(backend: Backend, args: argparse.Namespace) -> int:
    entries = backend.audit_log(limit=args.limit)
    view = time_view(backend, args)

    width = terminal_width()

    def targets(entry: AuditEntry) -> str:
        shown = ",".join(map(str, entry.targets))
        return f"{shown if width is None else _cut(shown, 30):<30}"

    def text() -> str:
        return (
            "\n".join(
                f"{view.moment(e.at, '%Y-%m-%d %H:%M:%S')}  {e.user:<10} {e.action:<17} "
                f"{e.outcome:<8} {targets(e)} {e.detail}"
                for e in entries
            )
            or "no audit records"
        )

    emit(args, entries, text, view)
    return 0


def _yesterday(backend: Backend) -> date:
    """The default business date of instance lists (spec 10), by the world's clock."""
    return default_bizdate(backend.now(), ZoneInfo(backend.workspace().timezone))


def _now_utc(backend: Backend) -> datetime:
    """The world's time as records keep their moments (naive UTC)."""
    return backend.now().astimezone(UTC).replace(tzinfo=None)


# -- acting ------------------------------------------------------------------------


def _done(args: argparse.Namespace, result: ActionResult) -> int:
    emit(
        args,
        result,
        lambda: (
            f"{result.action}: {result.message}"
            + (f"\n  instances: {', '.join(map(str, result.affected))}" if result.affected else "")
        ),
    )
    return 0


def rerun(backend: Backend, args: argparse.Namespace) -> int:
    if not args.preview:
        return _done(args, backend.rerun(args.ids, downstream=args.downstream))
    would = backend.preview_rerun(args.ids, downstream=args.downstream)
    found = backend.baseline_impact("rerun", would.affected)  # the descendants included
    view = time_view(backend, args)
    lines = None if found is None else [_impact_line(i, view) for i in found]
    result = dataclasses.replace(
        would,
        action=f"{would.action} preview",
        message=f"{counted(len(would.affected), 'instance')} would be reset to NOT_RUN and rerun; "
        "nothing was done",
        extra={"baselines": lines},
    )
    emit(
        args,
        result,
        lambda: "\n".join(
            [
                f"{result.action}: {result.message}",
                f"  instances: {', '.join(map(str, result.affected))}",
                *(
                    ["  baselines: not predicted by this backend"]
                    if lines is None
                    else [f"  {line}" for line in lines] or [f"  {NO_BASELINE}"]
                ),
            ]
        ),
        view,
    )
    return 0


def _impact_line(impact: BaselineImpact, view: TimeView) -> str:
    """A baseline's impact line, its times in the view's zone and labelled once."""
    label = view.moments_label(
        m for b in (impact.before, impact.after) for m in (b.predicted_finish, b.committed_at)
    )
    return f"{impact.describe(view.zone)} · times in {label}"


def set_success(backend: Backend, args: argparse.Namespace) -> int:
    return _done(args, backend.set_success(args.ids))


def stop(backend: Backend, args: argparse.Namespace) -> int:
    return _done(args, backend.stop(args.ids))


class UsageError(Exception):
    """A mistake on the command line or in its inputs: printed, exit status 2."""


def _targets_given(args: argparse.Namespace) -> None:
    if not args.ids and not args.node:
        raise UsageError("give instance ids, or --node NAME")


def freeze(backend: Backend, args: argparse.Namespace) -> int:
    _targets_given(args)
    if args.node:
        return _done(args, backend.freeze_node(args.node))
    return _done(args, backend.freeze(args.ids))


def unfreeze(backend: Backend, args: argparse.Namespace) -> int:
    _targets_given(args)
    if args.node:
        return _done(args, backend.unfreeze_node(args.node))
    return _done(args, backend.unfreeze(args.ids))


def undeploy(backend: Backend, args: argparse.Namespace) -> int:
    return _done(args, backend.undeploy(args.node))


def backfill(backend: Backend, args: argparse.Namespace) -> int:
    window = tuple(args.window.split("-", 1)) if args.window else None
    request = BackfillRequest(
        node=args.node,
        start=args.start,
        end=args.end,
        downstream=args.downstream,
        include=tuple(filter(None, (args.include or "").split(","))),
        exclude=tuple(filter(None, (args.exclude or "").split(","))),
        parallel=args.parallel,
        descending=args.desc,
        window=window,
        name=args.name or "",
    )
    if args.preview:
        return _done(args, backend.preview_backfill(request))
    return _done(args, backend.backfill(request))


def ids_type(text: str) -> list[int]:
    """argparse type for a list of instance ids ("12,13 14")."""
    return _ids(text)


INSTANCE_KINDS = [k.value for k in InstanceKind]


# -- baselines, events, alerts --------------------------------------------------------


def _local_clock(view: TimeView) -> Callable[[datetime | None], str]:
    """HH:MM in the view's zone, unlabelled: the line or header they sit in names the zone."""

    def show(moment: datetime | None) -> str:
        if moment is None:
            return "--:--"
        return f"{view.moment_instant(moment):%H:%M}"

    return show


def _baseline_moments(b: BaselineStatus) -> tuple[datetime | None, ...]:
    return (b.predicted_finish, b.committed_at, b.alert_at, b.if_rerun_now)


_BASELINE_GLYPH = {"SAFE": "✓", "WARNING": "!", "OVER": "✗", "ERROR": "?"}


def baselines(backend: Backend, args: argparse.Namespace) -> int:
    bizdate = args.bizdate or _yesterday(backend)
    found = backend.list_baselines(bizdate)
    view = time_view(backend, args)
    hhmm = _local_clock(view)

    def text() -> str:
        label = view.moments_label(m for b in found for m in _baseline_moments(b))
        lines = [f"Baselines · bizdate {bizdate} · times in {label}"]
        named = max((len(b.name) for b in found), default=0)
        for b in found:
            slack = b.slack_minutes
            slack_text = "" if slack is None else minutes_text(slack, signed=True)
            state = "done" if b.finished else "pred"
            lines.append(
                f"  {_BASELINE_GLYPH.get(b.status, '?')} {b.status:<8} {b.name:<{max(named, 18)}} "
                f"{state} {hhmm(b.predicted_finish)}  commit {hhmm(b.committed_at)}  "
                f"alert {hhmm(b.alert_at)} {slack_text:>6} p{b.priority}"
            )
            if b.blocked:  # at risk until an operator acts: say what holds it
                lines.append(f"{'':13}{blocked_text(b, view.zone)}")
            elif b.key_instance:
                key = b.key_instance
                lines.append(f"{'':13}key instance {key.node} #{key.id} ({key.status_label})")
        return "\n".join(lines) if found else f"no baseline instances for bizdate {bizdate}"

    emit(args, found, text, view)
    return 0


def baseline(backend: Backend, args: argparse.Namespace) -> int:
    bizdate = args.bizdate or _yesterday(backend)
    detail = backend.get_baseline(args.name, bizdate, args.cycle)
    view = time_view(backend, args)
    hhmm = _local_clock(view)

    def text() -> str:
        b = detail.status
        lines = [
            f"{b.name} · bizdate {bizdate} · {_BASELINE_GLYPH.get(b.status, '?')} {b.status} · "
            f"{'finished' if b.finished else 'predicted'} {hhmm(b.predicted_finish)} · committed "
            f"{hhmm(b.committed_at)} · alert {hhmm(b.alert_at)} · "
            f"protects {counted(b.protected, 'instance')}"
            f" · times in {view.moments_label(_baseline_moments(b))}"
        ]
        if b.blocked:
            lines.append(blocked_text(b, view.zone))
        if args.keypath and detail.key_path:
            steps = [m for s in detail.key_path for m in (s.est_start, s.est_finish)]
            lines += [
                "",
                "Key path (predicted; each bar spans start to finish; "
                f"times in {view.moments_label(steps)})",
            ]
            lines += _gantt(detail.key_path, hhmm)
        if detail.events:
            lines += ["", "Events"]
            lines += [f"  #{e.id} {e.kind:<5} {e.status:<8} {e.message}" for e in detail.events]
        return "\n".join(lines)

    emit(args, detail, text, view)
    return 0


def _gantt(steps: list, hhmm: Callable[[datetime | None], str], width: int = 32) -> list[str]:
    """A text Gantt of the key path: one row per instance, scaled to the path's span."""
    first = min(s.est_start for s in steps)
    last = max(s.est_finish for s in steps)
    span = max((last - first).total_seconds(), 60.0)
    rows = []
    for step in steps:
        # a step starting at the path's very end still gets a cell inside the frame
        begin = min(int((step.est_start - first).total_seconds() / span * width), width - 1)
        end = max(begin + 1, int((step.est_finish - first).total_seconds() / span * width))
        bar = " " * begin + "█" * (end - begin)
        rows.append(
            f"  {step.instance.status_label:<14}{step.instance.node:<24} "
            f"{hhmm(step.est_start)}-{hhmm(step.est_finish)} |{bar:<{width}}|"
        )
    return rows


def events(backend: Backend, args: argparse.Namespace) -> int:
    found = backend.list_events(limit=args.limit, open_only=args.open)
    view = time_view(backend, args)

    def text() -> str:
        return (
            "\n".join(
                f"#{e.id:<5} {e.kind:<5} {e.status:<8} {e.baseline:<16} "
                f"{e.bizdate:%Y%m%d}  {e.message}"
                for e in found
            )
            or "no events"
        )

    emit(args, found, text, view)
    return 0


def event(backend: Backend, args: argparse.Namespace) -> int:
    return _done(args, backend.handle_event(args.id, args.status.upper()))


def alerts(backend: Backend, args: argparse.Namespace) -> int:
    found = backend.list_alerts(limit=args.limit)
    view = time_view(backend, args)

    def text() -> str:
        lines = []
        for a in found:
            state = "resolved" if a.resolved_at else "open"
            error = f"  [webhook: {a.last_error}]" if a.last_error else ""
            first = view.moment(a.first_at, "%m-%d %H:%M")
            lines.append(
                f"#{a.id:<5} {first}  {a.rule:<18} {a.kind:<16} sent "
                f"{a.sent_count}x {state:<8} {a.message}{error}"
            )
        return "\n".join(lines) or "no alerts"

    emit(args, found, text, view)
    return 0


# -- status: what an operator checks first -----------------------------------------------

# the worst cycle speaks for a baseline; a status we do not know speaks loudest
_BASELINE_SEVERITY = ("SAFE", "WARNING", "ERROR", "OVER")


def status(backend: Backend, args: argparse.Namespace) -> int:
    """Counts by status of a business date, the nodes, the baselines and what is due next:
    the summary over any backend (the local store or a DataWorks workspace)."""
    info = backend.workspace()
    zone = ZoneInfo(info.timezone)
    bizdate = args.bizdate or _yesterday(backend)
    view = TimeView.of(zone, getattr(args, "utc", False))
    now = view.moment_instant(backend.now())
    tally = backend.status_counts(bizdate)
    deployed = backend.list_nodes()
    types: dict[str, int] = {}
    for n in sorted(deployed, key=lambda n: n.type):
        types[n.type] = types.get(n.type, 0) + 1
    frozen = sum(n.frozen or n.recurrence == "Pause" for n in deployed)
    waiting = tuple(s for s in Status if not s.finished and s is not Status.FROZEN)
    due = backend.list_instances(
        InstanceFilter(bizdate=bizdate, statuses=waiting, kind=InstanceKind.PERIODIC, limit=5)
    ).items[:5]
    if info.backend == "dataworks":
        scheduler = "DataWorks (its own scheduler; none of ours runs)"
    else:
        scheduler = info.scheduler or "not running (start it with 'opscenter scheduler')"
    clock = "real time" if info.speed == 1 else f"simulated ×{info.speed:g}"
    if info.stopped_at is not None:  # a simulated world stands where its scheduler left it
        clock += f"; scheduler stopped at {view.moment(info.stopped_at)}"
    listed = backend.list_baselines(bizdate)
    found = _baseline_summary(listed, ZoneInfo("UTC") if view.zone is UTC else zone)
    report = {
        "workspace": info.name,
        "backend": info.backend,
        "scheduler": scheduler,
        "timezone": info.timezone,
        "now": now.isoformat(),
        "speed": info.speed,
        "stopped_at": view.moment_instant(info.stopped_at).isoformat() if info.stopped_at else None,
        "bizdate": bizdate.isoformat(),
        "counts": {s.value: n for s, n in tally.counts.items()} | {"TOTAL": tally.total},
        "dry_run": tally.dry_run,
        "nodes_by_type": types,
        "frozen_nodes": frozen,
        "baselines": found,
        "upcoming": [
            {
                "node": i.node,
                "cyctime": view.wall_instant(i.cyctime).isoformat(),
                "status": i.status.value,
            }
            for i in due
        ],
    }

    def text() -> str:
        lines = [
            f"{info.name} · {info.backend} · now {view.moment(now)} ({info.timezone})",
            f"Scheduler: {scheduler}",
            f"Clock: {clock}",
            "",
            f"Instances · bizdate {bizdate} · {tally.total} total ({tally.dry_run} dry-run)",
        ]
        width = max(tally.counts.values(), default=0)
        for state, count in tally.counts.items():
            bar = "█" * round(20 * count / width) if width else ""
            lines.append(f"  {state.label:<16}{count:>6}  {bar}")
        kinds = ", ".join(f"{n} {t}" for t, n in types.items())
        lines += ["", f"Nodes · {len(deployed)} deployed ({kinds}) · {frozen} frozen"]
        if found:
            committed = view.moments_label(b.committed_at for b in listed)
            lines += ["", f"Baselines · committed times in {committed}"]
        for b in found:
            lines.append(
                f"  {b['name']:<18} priority {b['priority']}  committed {b['committed']}  "
                f"margin {minutes_text(b['margin'])}  "
                f"{_BASELINE_GLYPH.get(b['status'], '?')} {b['status']}"
            )
            if b["nodes"]:
                lines.append(f"  {'':<18} protects {', '.join(b['nodes'])}")
        if due:
            lines += ["", f"Due next · cyctimes in {view.walls_label(i.cyctime for i in due)}"]
        for item in due:
            note = " (dry-run)" if item.dry_run else ""
            cyctime = view.wall_instant(item.cyctime)
            lines.append(f"  {cyctime:%m-%d %H:%M}  {item.status_label:<16}{item.node}{note}")
        return "\n".join(lines)

    print(json.dumps(report, indent=2) if args.json else text())
    return 0


def _baseline_summary(found: list[BaselineStatus], zone: ZoneInfo) -> list[dict[str, Any]]:
    """One entry per baseline (an hourly one has a cycle per committed time), in the
    backend's order: committed times in the workspace zone, the margin before the
    committed time that alerts, and the worst status of its cycles."""
    named: dict[str, list[BaselineStatus]] = {}
    for b in found:
        named.setdefault(b.name, []).append(b)
    summary = []
    for name, cycles in named.items():
        first = cycles[0]
        worst = max(
            (c.status for c in cycles),
            key=lambda s: (
                _BASELINE_SEVERITY.index(s) if s in _BASELINE_SEVERITY else len(_BASELINE_SEVERITY)
            ),
        )
        summary.append(
            {
                "name": name,
                "priority": first.priority,
                "committed": ", ".join(f"{to_local(c.committed_at, zone):%H:%M}" for c in cycles),
                "margin": int((first.committed_at - first.alert_at).total_seconds() // 60),
                "nodes": list(first.nodes),
                "status": worst,
            }
        )
    return summary
