"""The verbs that read: nodes, one node, instances, one instance, its log, why it waits, and
the audit trail. None of them changes the world."""

from __future__ import annotations

import argparse
import re
import sys
from zoneinfo import ZoneInfo

from opscenter.backends.base import Backend
from opscenter.domain.cron import parse_cron
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import AuditEntry, InstanceFilter, NodeFilter, counted
from opscenter.domain.rules import duration_text, minutes_text, run_time_text
from opscenter.domain.times import TimeView
from opscenter.options import Options
from opscenter.verbs.output import (
    Column,
    cut,
    emit,
    instance_table,
    now_utc,
    table,
    terminal_width,
    time_view,
    yesterday,
)

INSTANCE_KINDS = [k.value for k in InstanceKind]


def nodes(backend: Backend, args: argparse.Namespace, options: Options) -> int:
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

    emit(args, found, text, time_view(backend, options))
    return 0


def node(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    info = backend.get_node(args.name)
    zone = ZoneInfo(backend.workspace().timezone)
    manual = info.manual  # deployed, never scheduled: no next fire time
    upcoming = [] if manual else parse_cron(info.cron).next_fire_times(backend.now(), 5, zone)
    view = TimeView.of(zone, options.utc)

    def text() -> str:
        lines = [
            f"{info.name} · {info.type} · owner {info.owner or '-'} · priority {info.priority} · "
            f"group {info.resource_group} · version {info.version} of "
            f"{view.moment(info.deployed_at)} · {info.state}",
            f"schedule: {info.schedule}"
            + (f" · workflow {info.workflow}" if manual else f"  (cron {info.cron})"),
            "next: "
            + (
                f"when an operator runs it ('opscenter run {info.workflow} --bizdate D')"
                if manual
                else ", ".join(view.moment(t, "%m-%d %H:%M") for t in upcoming)
            ),
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


def instances(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    statuses = (
        tuple(Status(s.strip().upper()) for s in args.status.split(",")) if args.status else ()
    )
    page = backend.list_instances(
        InstanceFilter(
            # a backfill's instances span its own dates: no default business date then
            bizdate=None if args.all_dates or args.backfill else args.bizdate or yesterday(backend),
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

    view = time_view(backend, options)

    now = now_utc(backend)

    def text() -> str:
        lines = instance_table(page.items, view, now, terminal_width())
        lines.append(f"{len(page.items)} of {page.total} shown")
        return "\n".join(lines)

    emit(args, page, text, view)
    return 0


def show(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    info = backend.get_instance(args.id)
    tried = backend.attempts(args.id)
    view = time_view(backend, options)
    took = run_time_text(info.run_time(now_utc(backend)), info.average)

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


def logs(backend: Backend, args: argparse.Namespace, options: Options) -> int:
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


def why(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    diagnosis = backend.diagnose(args.id)
    zone = backend.workspace().timezone

    def text() -> str:
        lines = [f"#{args.id}: {diagnosis.summary}"]
        lines += [f"  {'✓' if s.ok else '✗'} {s.check:<10}{s.message}" for s in diagnosis.steps]
        # the backend words the steps: its cyctimes are wall-clock, its other times say UTC
        if any(re.search(r"\d\d:\d\d", s.message) for s in diagnosis.steps):
            lines.append(f"  (times without a zone are cyctimes, wall-clock time in {zone})")
        return "\n".join(lines)

    emit(args, diagnosis, text, time_view(backend, options))
    return 0


def audit(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    entries = backend.audit_log(limit=args.limit)
    view = time_view(backend, options)

    width = terminal_width()

    def targets(entry: AuditEntry) -> str:
        shown = ",".join(map(str, entry.targets))
        return f"{shown if width is None else cut(shown, 30):<30}"

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
