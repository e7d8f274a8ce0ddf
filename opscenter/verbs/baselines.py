"""Baselines and what they raise: each baseline's prediction and slack, one baseline's key
path as a Gantt, baseline events, and the alerts of the workspace's rules."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime

from opscenter.backends.base import Backend
from opscenter.domain.records import BaselineStatus, blocked_text, counted
from opscenter.domain.rules import minutes_text
from opscenter.domain.times import TimeView
from opscenter.options import Options
from opscenter.verbs.output import BASELINE_GLYPH, emit, time_view, yesterday


def _local_clock(view: TimeView) -> Callable[[datetime | None], str]:
    """HH:MM in the view's zone, unlabelled: the line or header they sit in names the zone."""

    def show(moment: datetime | None) -> str:
        if moment is None:
            return "--:--"
        return f"{view.moment_instant(moment):%H:%M}"

    return show


def _baseline_moments(b: BaselineStatus) -> tuple[datetime | None, ...]:
    return (b.predicted_finish, b.committed_at, b.alert_at, b.if_rerun_now)


def baselines(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    bizdate = args.bizdate or yesterday(backend)
    found = backend.list_baselines(bizdate)
    view = time_view(backend, options)
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
                f"  {BASELINE_GLYPH.get(b.status, '?')} {b.status:<8} {b.name:<{max(named, 18)}} "
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


def baseline(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    bizdate = args.bizdate or yesterday(backend)
    detail = backend.get_baseline(args.name, bizdate, args.cycle)
    view = time_view(backend, options)
    hhmm = _local_clock(view)

    def text() -> str:
        b = detail.status
        lines = [
            f"{b.name} · bizdate {bizdate} · {BASELINE_GLYPH.get(b.status, '?')} {b.status} · "
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


def events(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    found = backend.list_events(limit=args.limit, open_only=args.open)
    view = time_view(backend, options)

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


def alerts(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    found = backend.list_alerts(limit=args.limit)
    view = time_view(backend, options)

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
