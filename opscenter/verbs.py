"""Headless verbs over a Backend: what the console shows and does, for scripts.

Every verb prints plain text readable without colour (status glyph + word),
or JSON with ``--json``; a refusal prints the backend's reason and exits 3.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from opscenter.backends.base import Backend
from opscenter.domain.cron import parse_cron
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import (
    NO_BASELINE,
    ActionResult,
    BackfillRequest,
    BaselineStatus,
    InstanceFilter,
    InstanceInfo,
    NodeFilter,
)
from opscenter.domain.times import to_local


def to_json(value: Any) -> Any:
    """Records as JSON-ready data: dates ISO, enums by value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for extra in ("duration", "status_label", "total", "dates_done", "at_end"):
            if hasattr(type(value), extra):
                data[extra] = to_json(getattr(value, extra))
        return data
    if isinstance(value, dict):
        return {(k.value if isinstance(k, Enum) else str(k)): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def emit(args: argparse.Namespace, value: Any, text: Callable[[], str]) -> None:
    print(json.dumps(to_json(value), indent=2) if getattr(args, "json", False) else text())


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def instance_line(item: InstanceInfo) -> str:
    """One instance in 80 columns; its run time beside its node's usual one (▲ longer)."""
    attempts = f"{item.run_number}/{item.max_attempts}" if item.run_number else "-"
    took = _duration(item.duration)
    if item.duration is not None and item.average:
        longer = "▲" if item.duration > 1.5 * item.average else " "
        took = f"{took}{longer}({_duration(item.average)})"
    return (
        f"{item.id:>5} {item.status_label:<15} {item.node[:21]:<21} {item.cyctime:%m-%d %H:%M} "
        f"{attempts:>3} {took:<13} {item.owner[:6]}"
    )


INSTANCE_HEADER = (
    f"{'ID':>5} {'STATUS':<15} {'NODE':<21} {'CYCTIME':<11} {'ATT':>3} {'TOOK (AVG)':<13} OWNER"
)


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
        lines = [f"{'NODE':<28}{'TYPE':<9}{'OWNER':<10}{'PRIO':>4}  {'GROUP':<10} SCHEDULE"]
        for n in found:
            mark = " ❄ frozen" if n.frozen else ""
            lines.append(
                f"{n.name:<28}{n.type:<9}{n.owner:<10}{n.priority:>4}  "
                f"{n.resource_group:<10} {n.schedule}{mark}"
            )
        lines.append(f"{len(found)} node(s)")
        return "\n".join(lines)

    emit(args, found, text)
    return 0


def node(backend: Backend, args: argparse.Namespace) -> int:
    info = backend.get_node(args.name)
    zone = ZoneInfo(backend.workspace().timezone)
    upcoming = parse_cron(info.cron).next_fire_times(backend.now(), 5, zone)

    def text() -> str:
        lines = [
            f"{info.name} · {info.type} · owner {info.owner or '-'} · priority {info.priority} · "
            f"group {info.resource_group} · version {info.version} · {info.state}",
            f"schedule: {info.schedule}  (cron {info.cron})",
            "next: " + ", ".join(f"{t:%m-%d %H:%M}" for t in upcoming),
            f"run mode {info.recurrence} · instances {info.instance_mode} · "
            f"rerun {info.rerun_mode} "
            f"· auto rerun {info.rerun_times}x every {info.rerun_interval}s · timeout "
            f"{str(info.timeout) + 'm' if info.timeout else 'none'}",
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

    emit(args, {"node": info, "next_fire_times": upcoming}, text)
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

    def text() -> str:
        lines = [INSTANCE_HEADER, *(instance_line(i) for i in page.items)]
        lines.append(f"{len(page.items)} of {page.total} shown")
        return "\n".join(lines)

    emit(args, page, text)
    return 0


def show(backend: Backend, args: argparse.Namespace) -> int:
    info = backend.get_instance(args.id)
    tried = backend.attempts(args.id)

    def text() -> str:
        lines = [
            f"{info.node} · #{info.id} · {info.kind.value} · cyctime {info.cyctime:%Y-%m-%d %H:%M} "
            f"· bizdate {info.bizdate:%Y%m%d}",
            f"{info.status_label} · attempt {info.run_number} of {info.max_attempts} · group "
            f"{info.resource_group} · priority {info.priority} · owner {info.owner or '-'}",
        ]
        if info.dry_run:
            lines.append(f"dry-run: {info.dry_run_reason}")
        for a in tried:
            lines.append(
                f"  attempt {a.number}: {a.status.label:<12} started {a.started_at:%m-%d %H:%M:%S} "
                f"by {a.triggered_by}" + (f" · {a.reason}" if a.reason else "")
            )
        return "\n".join(lines)

    emit(args, {"instance": info, "attempts": tried}, text)
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

    def text() -> str:
        lines = [f"#{args.id}: {diagnosis.summary}"]
        lines += [f"  {'✓' if s.ok else '✗'} {s.check:<10}{s.message}" for s in diagnosis.steps]
        return "\n".join(lines)

    emit(args, diagnosis, text)
    return 0


def backfills(backend: Backend, args: argparse.Namespace) -> int:
    found = [backend.get_backfill(args.id)] if args.id is not None else backend.list_backfills()

    def text() -> str:
        lines = []
        for b in found:
            lines.append(
                f"#{b.id} {b.name} · {b.status} · {b.dates_done}/{len(b.runs)} dates done · "
                f"parallel {b.parallel} · by {b.created_by}"
            )
            for run in b.runs:
                counts = " ".join(f"{s.glyph}{n}" for s, n in run.counts.items() if n)
                lines.append(f"    {run.bizdate:%Y-%m-%d}  {run.status:<8} {counts}")
        return "\n".join(lines) or "no backfills"

    emit(args, found, text)
    return 0


def audit(backend: Backend, args: argparse.Namespace) -> int:
    entries = backend.audit_log(limit=args.limit)

    def text() -> str:
        return (
            "\n".join(
                f"{e.at:%Y-%m-%d %H:%M:%S}  {e.user:<10} {e.action:<17} {e.outcome:<8} "
                f"{','.join(map(str, e.targets))[:30]:<30} {e.detail}"
                for e in entries
            )
            or "no audit records"
        )

    emit(args, entries, text)
    return 0


def _yesterday(backend: Backend) -> date:
    """The default business date of instance lists (spec 10): yesterday, workspace time."""
    zone = ZoneInfo(backend.workspace().timezone)
    return backend.now().astimezone(zone).date() - timedelta(days=1)


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
    zone = ZoneInfo(backend.workspace().timezone)
    lines = None if found is None else [i.describe(zone) for i in found]
    result = dataclasses.replace(
        would,
        action=f"{would.action} preview",
        message=f"{len(would.affected)} instance(s) would be reset to NOT_RUN and rerun; "
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
    )
    return 0


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


def _local_clock(backend: Backend) -> Callable[[datetime | None], str]:
    zone = ZoneInfo(backend.workspace().timezone)

    def show(moment: datetime | None) -> str:
        if moment is None:
            return "--:--"
        return f"{to_local(moment, zone):%H:%M}"

    return show


_BASELINE_GLYPH = {"SAFE": "✓", "WARNING": "!", "OVER": "✗", "ERROR": "?"}


def baselines(backend: Backend, args: argparse.Namespace) -> int:
    bizdate = args.bizdate or _yesterday(backend)
    found = backend.list_baselines(bizdate)
    hhmm = _local_clock(backend)

    def text() -> str:
        lines = [f"Baselines · bizdate {bizdate}"]
        for b in found:
            slack = b.slack_minutes
            slack_text = "" if slack is None else f"{slack:+d}m"
            state = "done" if b.finished else "pred"
            lines.append(
                f"  {_BASELINE_GLYPH.get(b.status, '?')} {b.status:<8} {b.name[:18]:<18} "
                f"{state} {hhmm(b.predicted_finish)}  commit {hhmm(b.committed_at)}  "
                f"alert {hhmm(b.alert_at)} {slack_text:>6} p{b.priority}"
            )
            if b.key_instance:
                key = b.key_instance
                lines.append(f"{'':13}key instance {key.node} #{key.id} ({key.status_label})")
        return "\n".join(lines) if found else f"no baseline instances for bizdate {bizdate}"

    emit(args, found, text)
    return 0


def baseline(backend: Backend, args: argparse.Namespace) -> int:
    bizdate = args.bizdate or _yesterday(backend)
    detail = backend.get_baseline(args.name, bizdate, args.cycle)
    hhmm = _local_clock(backend)

    def text() -> str:
        b = detail.status
        lines = [
            f"{b.name} · bizdate {bizdate} · {_BASELINE_GLYPH.get(b.status, '?')} {b.status} · "
            f"{'finished' if b.finished else 'predicted'} {hhmm(b.predicted_finish)} · committed "
            f"{hhmm(b.committed_at)} · alert {hhmm(b.alert_at)} · protects {b.protected} instances"
        ]
        if args.keypath and detail.key_path:
            lines += ["", "Key path (predicted; each bar spans start to finish)"]
            lines += _gantt(detail.key_path, hhmm)
        if detail.events:
            lines += ["", "Events"]
            lines += [f"  #{e.id} {e.kind:<5} {e.status:<8} {e.message}" for e in detail.events]
        return "\n".join(lines)

    emit(args, detail, text)
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

    def text() -> str:
        return (
            "\n".join(
                f"#{e.id:<5} {e.kind:<5} {e.status:<8} {e.baseline:<16} "
                f"{e.bizdate:%Y%m%d}  {e.message}"
                for e in found
            )
            or "no events"
        )

    emit(args, found, text)
    return 0


def event(backend: Backend, args: argparse.Namespace) -> int:
    return _done(args, backend.handle_event(args.id, args.status.upper()))


def alerts(backend: Backend, args: argparse.Namespace) -> int:
    found = backend.list_alerts(limit=args.limit)

    def text() -> str:
        lines = []
        for a in found:
            state = "resolved" if a.resolved_at else "open"
            error = f"  [webhook: {a.last_error}]" if a.last_error else ""
            lines.append(
                f"#{a.id:<5} {a.first_at:%m-%d %H:%M} UTC  {a.rule:<18} {a.kind:<16} sent "
                f"{a.sent_count}x {state:<8} {a.message}{error}"
            )
        return "\n".join(lines) or "no alerts"

    emit(args, found, text)
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
    now = backend.now().astimezone(zone)
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
    found = _baseline_summary(backend.list_baselines(bizdate), zone)
    report = {
        "workspace": info.name,
        "backend": info.backend,
        "scheduler": scheduler,
        "timezone": info.timezone,
        "now": now.isoformat(),
        "bizdate": bizdate.isoformat(),
        "counts": {s.value: n for s, n in tally.counts.items()} | {"TOTAL": tally.total},
        "dry_run": tally.dry_run,
        "nodes_by_type": types,
        "frozen_nodes": frozen,
        "baselines": found,
        "upcoming": [
            {"node": i.node, "cyctime": i.cyctime.isoformat(sep=" "), "status": i.status.value}
            for i in due
        ],
    }

    def text() -> str:
        lines = [
            f"{info.name} · {info.backend} · now {now:%Y-%m-%d %H:%M} {info.timezone}",
            f"Scheduler: {scheduler}",
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
            lines += ["", "Baselines"]
        for b in found:
            lines.append(
                f"  {b['name']:<18} priority {b['priority']}  committed {b['committed']}  "
                f"margin {b['margin']}m  {_BASELINE_GLYPH.get(b['status'], '?')} {b['status']}"
            )
            if b["nodes"]:
                lines.append(f"  {'':<18} protects {', '.join(b['nodes'])}")
        if due:
            lines += ["", "Due next"]
        for item in due:
            note = " (dry-run)" if item.dry_run else ""
            lines.append(f"  {item.cyctime:%m-%d %H:%M}  {item.status_label:<16}{item.node}{note}")
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
